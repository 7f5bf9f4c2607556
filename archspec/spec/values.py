"""Typed evaluation of spec values: literals as written, strings as expressions where a number is expected."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any, Mapping

from ..errors import Span, SpecError, source_line
from .expr import Expr, ExprError, evaluate, parse

KIND_NAMES = {
    "int": "an integer",
    "pair": "an integer or a pair [h, w]",
    "float": "a number",
    "bool": "true or false",
    "str": "a string",
    "list": "a list",
    "shape": "a shape such as [3, 224, 224]",
    "choice": "one of the listed names",
}


def expression_span(span: Span, offset: int, length: int = 1) -> Span:
    """The span of a token inside an expression string, skipping an opening quote."""
    line = source_line(span)
    quoted = line is not None and span.column - 1 < len(line) and line[span.column - 1] in "'\""
    return replace(span, column=span.column + offset + (1 if quoted else 0), length=length)


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
        raise SpecError.at(expression_span(span, exc.offset, exc.length), exc.message, exc.hint) from None


def typed_value(raw: Any, kind: str, env: Mapping[str, Any], span: Span, what: str,
                minimum: int | float | None = None, maximum: int | float | None = None) -> Any:
    """Evaluate `raw` as a value of `kind`; strings are expressions unless `kind` is 'str'."""
    value = raw
    if isinstance(raw, str) and kind not in ("str", "choice"):
        value = evaluate_text(raw, env, span)
    elif isinstance(raw, list) and kind in ("pair", "list", "shape"):
        value = [evaluate_text(v, env, span) if isinstance(v, str) else v for v in raw]
    checked = _check_kind(value, kind)
    if checked is None:
        shown = _show(value) if value is raw else f"{raw!r} (= {_show(value)})"
        raise SpecError.at(span, f"{what} must be {KIND_NAMES.get(kind, kind)}, got {shown}")
    numbers = checked if isinstance(checked, tuple) else (checked,)
    numbers = [n for n in numbers if isinstance(n, (int, float)) and not isinstance(n, bool)]
    if minimum is not None and any(n < minimum for n in numbers):
        raise SpecError.at(span, f"{what} must be at least {minimum}, got {_show(checked)}")
    if maximum is not None and any(n > maximum for n in numbers):
        raise SpecError.at(span, f"{what} must be at most {maximum}, got {_show(checked)}")
    return checked


def _show(value: Any) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
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
        return value if isinstance(value, list) else None
    return value
