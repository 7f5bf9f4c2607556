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

import bisect
import difflib
import functools
import re
import traceback
from contextvars import ContextVar
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
        return f"{self.file}:{self.line}:{self.column}" if self.line else self.file  # line 0: the file as a whole


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


def printable(text: str) -> str:
    """`text` safe to print on a terminal: control characters (ESC, which starts the sequences that move the
    cursor, retitle the window or recolour the text; NUL, carriage returns, C1 controls) and the line and
    paragraph separators are written as escapes; tabs stay."""
    return _CONTROL.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), text)


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass
class Diagnostic:
    message: str
    span: Span = UNKNOWN_SPAN
    hint: str | None = None
    severity: str = "error"

    def headline(self) -> str:
        """The first line, as a terminal shows it: text from the spec cannot send control sequences."""
        return printable(f"{self.span}: {self.severity}: {self.message}")

    def render(self) -> str:
        out = [self.headline()]
        text = source_line(self.span)
        if text is not None:
            gutter = f"{self.span.line:>5} | "
            out.append(gutter + printable(text.rstrip()))
            caret = " " * len(printable(text[:self.span.column - 1])) + "^" * max(1, min(self.span.length, 80))
            out.append(" " * (len(gutter) - 2) + "| " + caret)
        if self.hint:
            out.append(printable(f"hint: {self.hint}"))
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


# Where the compiler is: the spec being read, then the layer being lowered; an internal error names it.
_PROCESSING: ContextVar[Span | None] = ContextVar("archspec_processing", default=None)


def processing(span: Span | None) -> None:
    """Record what the compiler works on now (cheap: lowering calls it once per layer)."""
    _PROCESSING.set(span)


def internal_error(exc: BaseException) -> Diagnostic:
    """An unexpected exception as a diagnostic: what was being processed, where in archspec it was raised,
    and the request to report it. Never a user's mistake: those are SpecErrors."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [frame for frame in frames if "/archspec/" in frame.filename.replace("\\", "/")] or frames
    where = ""
    if ours:
        frame = ours[-1]
        path = frame.filename.replace("\\", "/")
        where = f" (raised in {path[path.rfind('/archspec/') + 1:] if '/archspec/' in path else path}:" \
                f"{frame.lineno}, {frame.name})"
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Diagnostic(f"{detail}{where}", _PROCESSING.get() or UNKNOWN_SPAN,
                      hint="this is a bug in archspec, not a mistake in the spec; please report it with the spec "
                           "and this message", severity="internal error")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint for a misspelled name, or None.

    Among many candidates (a family with thousands of parameters, a network with thousands of layers) only
    the closest in spelling order are compared: a typo keeps either the start or the end of a name, so the
    neighbours of the word, read forwards and backwards, hold the likely matches; each call then costs a
    bounded number of comparisons instead of one per candidate.
    """
    forwards, backwards = _spellings(tuple(candidates))
    if len(forwards) > 2 * _NEIGHBOURS:
        pool = set(_neighbours(forwards, word)) | {name[::-1] for name in _neighbours(backwards, word[::-1])}
        forwards = sorted(pool)
    matches = difflib.get_close_matches(word, forwards, n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None


_NEIGHBOURS = 40


@functools.lru_cache(maxsize=16)
def _spellings(candidates: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The candidates sorted, and sorted as read backwards (each spelled backwards)."""
    names = sorted(set(candidates))
    return names, sorted(name[::-1] for name in names)


def _neighbours(names: list[str], word: str) -> list[str]:
    at = bisect.bisect_left(names, word)
    return names[max(0, at - _NEIGHBOURS):at + _NEIGHBOURS]


def listed(names: Iterable[str], most: int = 12) -> str:
    """Names for a hint, at most `most` of them: 'a, b, c' or 'a, b, … (5000 in all)'."""
    names = list(names)
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown}, … ({len(names)} in all)"


def display_path(path: Path) -> str:
    """A path as a user typed it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a path the system cannot resolve (a loop)
        return str(path)
