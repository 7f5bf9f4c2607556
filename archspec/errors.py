"""Located diagnostics: the one error type every stage of the compiler raises.

A diagnostic prints like a C compiler's::

    specs/foo.yaml:14:9: error: conv 'layer2.0.conv1' expects 256 input channels, got 128
       14 |       - conv: {out: 64, in: 256}
          |         ^
    hint: remove 'in' and let archspec infer it

Errors are collected in a :class:`Diagnostics` list so that one run reports
every problem it can find, not only the first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Span:
    """A position in a spec file: 1-based line and column, with the file's text for excerpts."""

    file: str
    line: int
    column: int
    length: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


UNKNOWN_SPAN = Span("<unknown>", 0, 0)

# Source text of every file the loader read, so a diagnostic can quote its line.
_SOURCES: dict[str, list[str]] = {}


def remember_source(file: str, text: str) -> None:
    _SOURCES[file] = text.splitlines()


def source_line(span: Span) -> str | None:
    lines = _SOURCES.get(span.file)
    if lines is None or not 1 <= span.line <= len(lines):
        return None
    return lines[span.line - 1]


@dataclass
class Diagnostic:
    message: str
    span: Span = UNKNOWN_SPAN
    hint: str | None = None
    severity: str = "error"

    def headline(self) -> str:
        return f"{self.span}: {self.severity}: {self.message}"

    def render(self) -> str:
        out = [self.headline()]
        text = source_line(self.span)
        if text is not None:
            gutter = f"{self.span.line:>5} | "
            out.append(gutter + text.rstrip())
            caret = " " * (self.span.column - 1) + "^" * max(1, min(self.span.length, 80))
            out.append(" " * (len(gutter) - 2) + "| " + caret)
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)

    def to_json(self) -> dict:
        return {
            "severity": self.severity,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "message": self.message,
            "hint": self.hint,
        }


class SpecError(Exception):
    """One or more located problems in a spec. Never shown to a user as a traceback."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.headline() for d in self.diagnostics))

    @classmethod
    def at(cls, span: Span, message: str, hint: str | None = None) -> "SpecError":
        return cls(Diagnostic(message, span, hint))


@dataclass
class Diagnostics:
    """Collects errors and warnings; `check()` raises them together."""

    items: list[Diagnostic] = field(default_factory=list)
    _seen: set[tuple[Span, str]] = field(default_factory=set, repr=False)

    def error(self, span: Span, message: str, hint: str | None = None) -> None:
        self.add(Diagnostic(message, span, hint))

    def warning(self, span: Span, message: str, hint: str | None = None) -> None:
        self.add(Diagnostic(message, span, hint, severity="warning"))

    def extend(self, error: SpecError) -> None:
        for diagnostic in error.diagnostics:
            self.add(diagnostic)

    def add(self, diagnostic: Diagnostic) -> None:
        # The same file can be read on two paths (a family and its blocks); report each problem once.
        # A set, not a scan of the list: a repeat can produce many distinct errors.
        key = (diagnostic.span, diagnostic.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(diagnostic)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def check(self) -> None:
        if self.errors:
            raise SpecError(self.errors)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelled name, or None."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


def display_path(path: Path) -> str:
    """A path as a user typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
