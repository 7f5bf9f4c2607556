"""Ops that reshape or pass tensors through: flatten, dropout, identity."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .base import (Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, call, prod, register, require_rank,
                   size_text, whole_axis)


class _Passthrough(Weightless):
    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0


@register
class Flatten(_Passthrough):
    name = "flatten"
    channels = "none"
    whole_input = True
    category = "reshape"
    summary = "flatten all but the batch dimension into a vector"
    module = False
    attrs = {}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return (prod(inputs[0]),)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads] | str:
        if len(inputs[0]) != 3:
            return "pointwise"
        return whole_axis(inputs[0][1], 1), whole_axis(inputs[0][2], 1)

    def emit(self, args: CodeArgs) -> str:
        return "torch.flatten({0}, 1)"


@register
class Dropout(_Passthrough):
    name = "dropout"
    category = "regularise"
    summary = "dropout (identity in eval mode)"
    attrs = {"p": Attr("float", 0.5, minimum=0, maximum=1, doc="probability of zeroing an element"),
             "inplace": Attr("bool", False)}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"dropout {attrs['p']:g}"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Dropout", [], args.keyword("p", "p", 0.5) + args.keyword("inplace", "inplace", False))


@register
class Identity(_Passthrough):
    name = "identity"
    category = "reshape"
    summary = "passes its input through (nn.Identity)"
    attrs = {}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def emit(self, args: CodeArgs) -> str:
        return "nn.Identity()"


@register
class Unflatten(_Passthrough):
    name = "unflatten"
    category = "reshape"
    channels = "none"  # set by its `shape`, which code generation reads from the instances
    summary = "turns a vector of features back into a feature map (nn.Unflatten)"
    attrs = {"shape": Attr("shape", minimum=1, doc="the feature map's [channels, height, width]")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        (features,) = require_rank(inputs, 1, "unflatten")
        if prod(attrs["shape"]) != features:
            raise ShapeError(f"cannot arrange {features} features as {'x'.join(map(str, attrs['shape']))}",
                             hint=f"the shape's product must be {features}")
        return tuple(attrs["shape"])

    def label(self, attrs: dict[str, Any]) -> str:
        return f"unflatten to {size_text(tuple(attrs['shape']))}"

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        # Every unit of the map reads the one "unit" a vector is: all of them see what it saw (jump 0).
        return tuple(Reads(Fraction(0), lambda o: (0,)) for _ in range(2))

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Unflatten", ["1", args.src("shape")], [])
