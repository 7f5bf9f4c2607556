"""Symbolic values inside a block definition: expressions over the block's parameters and `in_channels`.

A block's class is written once for all its instances, so what it computes (the channels after each layer,
a nested block's output channels) must be an expression of its constructor arguments, not a number seen
in one instance. These helpers build such expressions; every instance is then checked against them.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Mapping

from ..spec import expr as ex


def substitute(expr: ex.Expr, values: Mapping[str, ex.Expr]) -> ex.Expr:
    """`expr` with each name in `values` replaced by its expression, folded where constants meet.

    A nested block's output channels are an expression of its own parameters (`out * 2`); substituting
    the arguments it is given (`out` -> `planes * 4`) gives them in terms of the enclosing block's.
    """
    return ex.fold(_replace(expr, values), {})


def _replace(expr: ex.Expr, values: Mapping[str, ex.Expr]) -> ex.Expr:
    if isinstance(expr, ex.Name):
        return values.get(expr.name, expr)
    changes = {}
    for field in fields(expr):
        value = getattr(expr, field.name)
        if isinstance(value, ex.Expr):
            changes[field.name] = _replace(value, values)
        elif isinstance(value, tuple) and value and isinstance(value[0], ex.Expr):
            changes[field.name] = tuple(_replace(item, values) for item in value)
    return replace(expr, **changes) if changes else expr


def channel_sum(channels: list[ex.Expr]) -> ex.Expr:
    """The channels of a concatenation: the sum of its inputs'."""
    total = channels[0]
    for other in channels[1:]:
        total = ex.Binary(0, "+", total, other)
    return ex.fold(total, {})
