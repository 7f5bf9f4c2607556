"""A line writer and a name space for generating Python source."""

from __future__ import annotations

import re
from typing import Iterable

from ..names import is_reserved_variable


class LineWriter:
    """Collects lines at an indentation level; `source()` joins them with a final newline."""

    def __init__(self, indent: str = "    "):
        self.lines: list[str] = []
        self.level = 0
        self.unit = indent

    def line(self, text: str = "") -> None:
        self.lines.append(self.unit * self.level + text if text else "")

    def block(self, text: str) -> None:
        """Several lines at the current indentation (a multi-line expression)."""
        for part in text.split("\n"):
            self.line(part)

    def indent(self) -> None:
        self.level += 1

    def outdent(self) -> None:
        self.level -= 1

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def source(self) -> str:
        text = "\n".join(self.lines).rstrip("\n")
        return text + "\n"


class Namespace:
    """Local variable names: legal, unique, never a keyword, builtin or a name the file imports."""

    def __init__(self, reserved: Iterable[str] = ()) -> None:
        self.used: set[str] = set(reserved)  # also names the file defines (classes, helpers) that code refers to

    def claim(self, wanted: str) -> str:
        base = re.sub(r"\W", "_", wanted) or "value"
        if base[0].isdigit():
            base = f"x{base}"
        if is_reserved_variable(base):
            base = f"{base}_"
        name, index = base, 1
        while name in self.used:
            index += 1
            name = f"{base}_{index}"
        self.used.add(name)
        return name


def call_lines(head: str, items: list[str], width: int = 100, indent: str = "    ", brackets: str = "()") -> str:
    """`head(item, item)` on one line when it fits, else one item per line with a trailing comma."""
    opening, closing = brackets[0], brackets[1]
    one_line = f"{head}{opening}{', '.join(items)}{closing}"
    if len(one_line) <= width and "\n" not in one_line:
        return one_line
    inner = ",\n".join(indent + item.replace("\n", "\n" + indent) for item in items)
    return f"{head}{opening}\n{inner},\n{closing}"
