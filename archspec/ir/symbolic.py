"""Symbolic values inside a block definition: expressions over the block's parameters and `in_channels`.

A block's class is written once for all its instances, so what it computes (the channels after each layer,
a nested block's output channels) must be an expression of its constructor arguments, not a number seen
in one instance. These helpers build such expressions; every instance is then checked against them.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Mapping

from ..spec import expr as ex


def substitute(expr: ex.Expr, values: Mapping[str, ex.Expr]) -> ex.Expr:
    """`expr` with each name in `values` replaced by its expression, folded where constants meet.

    A nested block's output channels are an expression of its own parameters (`out * 2`); substituting
    the arguments it is given (`out` -> `planes * 4`) gives them in terms of the enclosing block's.
    """
    return _simplify(ex.fold(_replace(expr, values), {}))


def _replace(expr: ex.Expr, values: Mapping[str, ex.Expr]) -> ex.Expr:
    if isinstance(expr, ex.Name):
        return values.get(expr.name, expr)
    changes: dict[str, Any] = {}  # per field an Expr or a tuple of them: no one value type fits every field
    for field in fields(expr):
        value = getattr(expr, field.name)
        if isinstance(value, ex.Expr):
            changes[field.name] = _replace(value, values)
        elif isinstance(value, tuple) and value and isinstance(value[0], ex.Expr):
            changes[field.name] = tuple(_replace(item, values) for item in value)
    return replace(expr, **changes) if changes else expr


def _simplify(expr: ex.Expr) -> ex.Expr:
    """`a - 1 + 1` is `a`: what putting `i - 1` for `i` into `width * (i + 1)` leaves, folded away."""
    changes: dict[str, Any] = {}  # as in _replace
    for field in fields(expr):
        value = getattr(expr, field.name)
        if isinstance(value, ex.Expr):
            changes[field.name] = _simplify(value)
        elif isinstance(value, tuple) and value and isinstance(value[0], ex.Expr):
            changes[field.name] = tuple(_simplify(item) for item in value)
    expr = replace(expr, **changes) if changes else expr
    if isinstance(expr, ex.Index) and isinstance(expr.target, ex.ListExpr) and isinstance(expr.index, ex.Const) \
            and isinstance(expr.index.value, int) and -len(expr.target.items) <= expr.index.value < len(expr.target.items):
        return expr.target.items[expr.index.value]
    inverse = {"+": "-", "-": "+"}
    if isinstance(expr, ex.Binary) and expr.op in inverse and isinstance(expr.left, ex.Binary) and \
            expr.left.op == inverse[expr.op] and isinstance(expr.right, ex.Const) and same(expr.left.right, expr.right):
        return expr.left.left
    return expr


def same(a: ex.Expr | None, b: ex.Expr | None) -> bool:
    """The same expression, wherever in the spec's text each was written."""
    if a is None or b is None:
        return a is b
    try:
        return ex.to_python(a) == ex.to_python(b)
    except ex.ExprError:  # not printable without the names' types: compare the trees
        return a == b


def channel_sum(channels: list[ex.Expr]) -> ex.Expr:
    """The channels of a concatenation: the sum of its inputs'."""
    total = channels[0]
    for other in channels[1:]:
        total = ex.Binary(0, "+", total, other)
    return ex.fold(total, {})


# Stands for the input channels of one copy of a repeat's body while its rule is worked out.
CARRY = "__carry__"


def repeat_input_channels(out: ex.Expr, first: ex.Expr, var: str) -> ex.Expr | None:
    """The input channels of copy `var` of a repeat whose body turns `CARRY` input channels into `out`.

    Three rules cover the blocks people write: a body that keeps the channels (copy i gets `first`); one
    whose output is a fixed count (copy 0 gets `first`, the others the previous copy's output, as
    torchvision writes `in_channels if i == 0 else out`); one that adds a fixed count (a dense block: copy i
    gets `first + i * growth`). Anything else is None.
    """
    index = ex.Name(0, var)
    if out == ex.Name(0, CARRY):
        return first
    if CARRY not in ex.names_in(out):
        previous = substitute(out, {var: ex.Binary(0, "-", index, ex.Const(0, 1))})
        if same(previous, first):
            return first
        return ex.IfElse(0, ex.Compare(0, ("==",), (index, ex.Const(0, 0))), first, previous)
    if isinstance(out, ex.Binary) and out.op == "+" and out.left == ex.Name(0, CARRY) and \
            not ex.names_in(out.right) & {CARRY, var}:
        return ex.fold(ex.Binary(0, "+", first, ex.Binary(0, "*", index, out.right)), {})
    return None
