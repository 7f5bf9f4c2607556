"""Small pieces the PyTorch backend's writers share: docstrings, module lists, repeated modules."""

from __future__ import annotations

import textwrap

from ...ops import Op
from ...ops.base import Weightless
from ...spec.expr import python_literal
from ..writer import LineWriter, call_lines


LIST_MARK = "\0module list "


class ModuleLists:
    """Layers named `list.index` share one nn.ModuleList attribute (`list.key`: an nn.ModuleDict), written
    where its first member is and ordered by index, as torchvision's FPN keeps `inner_blocks`."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, str]] = {}

    def assign(self, writer: LineWriter, name: str, construct: str, note: str = "") -> None:
        if "." not in name:
            writer.block(with_note(f"self.{name} = {construct}", note))
            return
        head, key = name.split(".", 1)
        if head not in self.members:
            self.members[head] = {}
            writer.line(LIST_MARK + head)
        self.members[head][key] = construct

    def hold_place(self, writer: LineWriter, name: str) -> None:
        """A layer without a module (a concat) numbered in a module list, as `model.1` between `model.0` and
        `model.2` in Ultralytics' layout: an nn.Identity keeps its place, so the list indices stay the
        spec's; it has no state, and forward computes the layer itself."""
        head, _, key = name.partition(".")
        if key.isdigit():
            self.assign(writer, name, "nn.Identity()")

    def finish(self, writer: LineWriter) -> None:
        lines = []
        for line in writer.lines:
            if LIST_MARK not in line:
                lines.append(line)
                continue
            indent, head = line.split(LIST_MARK)
            text = f"self.{head} = {self.container(self.members[head])}"
            lines.extend(indent + part for part in text.split("\n"))
        writer.lines = lines

    @staticmethod
    def container(members: dict[str, str]) -> str:
        if sorted(members) == sorted(map(str, range(len(members)))) and all(k.isdigit() for k in members):
            items = [members[str(index)] for index in range(len(members))]
            return call_lines("nn.ModuleList", [call_lines("", items, brackets="[]")])
        pairs = [f"{python_literal(key)}: {construct}" for key, construct in members.items()]
        return call_lines("nn.ModuleDict", [call_lines("", pairs, brackets="{}")])


class StatelessModules:
    """Lets unnamed stateless layers with one configuration share one attribute (`self.relu`), as
    torchvision writes them; weights are never shared this way, and state_dict keys do not change."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}

    def attribute(self, named: bool, op: Op | None, name: str, construct: str) -> str:
        if named or op is None or not op.module or has_state(op):
            return name
        return self.first.setdefault(construct, name)


def has_state(op: Op) -> bool:
    """Whether the op may hold weights or buffers: only a Weightless op without buffers can share its
    module between uses (an op with weights and no inferred attribute must not)."""
    return not isinstance(op, Weightless) or type(op).buffers is not Op.buffers


def module_form(op: Op) -> str:
    """The module standing for an op computed in forward where a module must be (in nn.Sequential)."""
    assert op.sequence_form is not None, f"'{op.name}' in nn.Sequential, which passes/emittable.py refuses"
    return op.sequence_form


def fold_runs(constructs: list[str]) -> list[str]:
    """Write runs of three or more identical modules as `*[Module(...) for _ in range(n)]`."""
    grouped: list[str] = []
    index = 0
    while index < len(constructs):
        run = 1
        while index + run < len(constructs) and constructs[index + run] == constructs[index]:
            run += 1
        if run >= 3 and "\n" not in constructs[index]:
            grouped.append(f"*[{constructs[index]} for _ in range({run})]")
        else:
            grouped.extend(constructs[index:index + run])
        index += run
    return grouped


def docstring(text: str) -> str:
    text = escaped(" ".join(str(text).split()), docstring=True)
    return text if text.endswith((".", "!", "?")) else text + "."


def docstring_source(text: str, level: int, width: int = 100) -> str:
    """A docstring at indentation `level`: one line when it fits, else wrapped at the line width with the
    closing quotes on a line of their own (PEP 257)."""
    text, indent = docstring(text), "    " * level
    if len(indent) + len(text) + 6 <= width:
        return f'"""{text}"""'
    lines = textwrap.wrap(text, width - len(indent), initial_indent='"""', break_long_words=False,
                          break_on_hyphens=False)
    return "\n".join([*lines, '"""'])


def escaped(text: str, docstring: bool = False) -> str:
    """Text that cannot end a comment line or a docstring: unprintable characters (line breaks, NUL,
    lone surrogates) written as escapes, and in a docstring backslashes doubled and triple quotes broken."""
    if docstring:
        text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def with_note(statement: str, note: str) -> str:
    """A statement with a trailing comment on its first line (a construct may span several lines)."""
    first, newline, rest = statement.partition("\n")
    return first + note + newline + rest
