"""Typed evaluation of spec values: literals as written, strings as expressions where a number is expected."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from fractions import Fraction
from typing import Any, Iterable, Mapping

from ..errors import Span, SpecError, source_line
from .expr import Expr, ExprError, evaluate, names_in, parse

KIND_NAMES = {
    "int": "an integer",
    "pair": "an integer or a pair [h, w]",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list of numbers, strings, booleans or lists",
    "shape": "a shape such as [3, 224, 224]",
    "choice": "one of the listed names",
}


def expression_span(span: Span, offset: int, length: int = 1) -> Span:
    """The span of a token inside an expression string, skipping an opening quote."""
    line = source_line(span)
    quoted = line is not None and span.column - 1 < len(line) and line[span.column - 1] in "'\""
    return replace(span, column=span.column + offset + (1 if quoted else 0), length=length)


class Env(dict):
    """The names an expression may read, and where each was set when that is known (a spec's params), so
    an error in a family's expression can say which value of the variant it read."""

    origins: dict[str, Span]

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] = (),
                 origins: Mapping[str, Span] | None = None):
        super().__init__(values)
        self.origins = dict(origins or {})

    def bind(self, name: str, value: Any) -> "Env":
        """A copy with one more name (a repeat's index), which hides any earlier one of that name."""
        return Env({**self, name: value}, {k: s for k, s in self.origins.items() if k != name})


def bind(env: Mapping[str, Any], name: str, value: Any) -> dict[str, Any]:
    """`env` with one more name, keeping where the others were set."""
    return env.bind(name, value) if isinstance(env, Env) else {**env, name: value}


def _origin_hint(expr: Expr | None, env: Mapping[str, Any], span: Span) -> str | None:
    """"'layers' is set to [2, 2] at variant.yaml:8" for the names `expr` reads that another file sets."""
    origins = getattr(env, "origins", {})
    notes = []
    for name in sorted(names_in(expr)) if expr is not None else ():
        origin = origins.get(name)
        if origin is not None and origin.file != span.file:
            shown = _show(env[name])
            value = f" to {shown}" if len(shown) <= 40 else ""
            notes.append(f"'{name}' is set{value} at {origin.file}:{origin.line}")
    return "; ".join(notes) or None


def _with_origins(error: SpecError, expr: Expr | None, env: Mapping[str, Any], span: Span) -> SpecError:
    note = _origin_hint(expr, env, span)
    if note:
        for diagnostic in error.diagnostics:
            diagnostic.hint = f"{diagnostic.hint}; {note}" if diagnostic.hint else note
    return error


def parse_expression(text: str, span: Span) -> Expr:
    try:
        return parse(text)
    except ExprError as exc:
        raise SpecError.at(expression_span(span, exc.offset), exc.message, exc.hint) from None


def evaluate_text(text: str, env: Mapping[str, Any], span: Span) -> Any:
    expr = parse_expression(text, span)
    try:
        return evaluate(expr, env)
    except ExprError as exc:
        error = SpecError.at(expression_span(span, exc.offset, exc.length), exc.message, exc.hint)
        raise _with_origins(error, expr, env, span) from None


def typed_value(raw: Any, kind: str, env: Mapping[str, Any], span: Span, what: str,
                minimum: int | float | None = None, maximum: int | float | None = None,
                above: int | float | None = None) -> Any:
    """Evaluate `raw` as a value of `kind`; strings are expressions unless `kind` is 'str'."""
    value = raw
    if isinstance(raw, str) and kind in ("pair", "shape") and _DIMENSIONS.fullmatch(raw):
        sizes = ", ".join(re.findall(r"\d+", raw))
        raise SpecError.at(span, f"{what} must be {KIND_NAMES[kind]}, got {raw!r}", hint=f"write [{sizes}] for {raw}")
    if isinstance(raw, str) and kind not in ("str", "choice"):
        value = evaluate_text(raw, env, span)
    elif isinstance(raw, list) and kind in ("pair", "list", "shape"):
        value = [evaluate_text(v, env, span) if isinstance(v, str) else v for v in raw]
    checked = _check_kind(value, kind)
    problem = None
    if checked is None:
        problem = f"{what} must be {KIND_NAMES.get(kind, kind)}"
    else:
        items = checked if isinstance(checked, tuple) else (checked,)
        numbers = [n for n in items if isinstance(n, (int, float)) and not isinstance(n, bool)]
        if minimum is not None and any(n < minimum for n in numbers):
            problem = f"{what} must be at least {minimum}"
        elif maximum is not None and any(n > maximum for n in numbers):
            problem = f"{what} must be at most {maximum}"
        elif above is not None and any(n <= above for n in numbers):
            problem = f"{what} must be more than {above}"
    if problem is not None:
        hint = _whole_float_hint(raw, value, kind) or _rounding_hint(kind, value)
        error = SpecError.at(span, f"{problem}, got {_written(raw, value)}", hint=hint)
        raise _with_origins(error, _parsed(raw), env, span)
    return checked


def _rounding_hint(kind: str, value: Any) -> str | None:
    """For a width multiplier's result where an integer is needed: the functions that make one."""
    numbers = value if isinstance(value, list) else [value]
    if kind in ("int", "pair", "shape") and any(isinstance(n, (float, Fraction)) for n in numbers):
        return "make it an integer with int(…), round(…), floor(…), ceil(…) or make_divisible(…, 8)"
    return None


def _whole_float_hint(raw: Any, value: Any, kind: str) -> str | None:
    """`out: 64.0` or `count: 1e2` where an integer is wanted: a whole number, written as a float literal."""
    written = raw if isinstance(raw, list) else [raw]
    floats = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, float)]
    literal = all(isinstance(w, (int, float)) or isinstance(w, str) and _FLOAT_LITERAL.fullmatch(w) for w in written)
    if kind not in ("int", "pair", "shape") or not floats or not literal or not all(v.is_integer() for v in floats):
        return None
    return (f"write {int(floats[0])}, not {floats[0]!r}: a number with a decimal point or an exponent is a float, "
            "even when it is whole")


_FLOAT_LITERAL = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")

# `3x3`, `3x224x224`: sizes written as in prose, which the expression language would read as names.
_DIMENSIONS = re.compile(r"\s*\d+(\s*[xX×]\s*\d+)+\s*")


def _written(raw: Any, value: Any) -> str:
    """A value as the spec wrote it, and what it evaluated to when that reads differently."""
    written, evaluated = _show(raw), _show(value)
    return written if written == evaluated else f"{written} (= {evaluated})"


def _parsed(raw: Any) -> Expr | None:
    """The expression of a raw value that is one (for hints; it has been parsed successfully before)."""
    try:
        return parse(raw) if isinstance(raw, str) else None
    except ExprError:
        return None


def _show(value: Any) -> str:
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, tuple) and len(set(value)) == 1:
        return _show(value[0])
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return repr(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_kind(value: Any, kind: str) -> Any:
    """The value normalised to `kind`, or None if it is not one."""
    if kind == "int":
        return value if _is_int(value) else None
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)):
            return None
        return float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if kind == "pair":
        if _is_int(value):
            return (value, value)
        if isinstance(value, list) and len(value) == 2 and all(_is_int(v) for v in value):
            return tuple(value)
        return None
    if kind == "shape":
        if isinstance(value, list) and value and all(_is_int(v) for v in value):
            return tuple(value)
        return None
    if kind in ("str", "choice"):
        return value if isinstance(value, str) else None
    if kind == "list":
        return value if isinstance(value, list) and is_plain(value) else None
    return value


def is_plain(value: Any) -> bool:
    """Whether generated code can hold `value` as a literal: a finite number, string, boolean, or list of them."""
    if isinstance(value, list):
        return all(is_plain(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (int, Fraction, str))
