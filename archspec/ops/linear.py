"""Fully connected layers."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Op, Shape, ShapeError, call, register, require_rank


@register
class Linear(Op):
    name = "linear"
    channels = "out"
    whole_input = True
    category = "linear"
    summary = "fully connected layer (nn.Linear)"
    attrs = {
        "out": Attr("int", minimum=1, doc="output features"),
        "bias": Attr("bool", True),
        "in": Attr("int", minimum=1, inferred=True, channels=True, doc="input features; inferred from the input"),
    }

    def label(self, attrs: dict[str, Any]) -> str:
        return f"linear {attrs['out']}"

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        if "in" not in attrs:
            attrs["in"] = require_rank(inputs, 1)[0]  # a rank error says more than "cannot infer 'in'"
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        (features,) = require_rank(inputs, 1, "linear")
        if features != attrs["in"]:
            raise ShapeError(f"expects {attrs['in']} input features, got {features}",
                             hint="the spatial size before 'flatten' differs from the one this layer was built "
                                  "for; an adaptive pool before 'flatten' makes it independent of the input size")
        return (attrs["out"],)

    def params(self, attrs: dict[str, Any]) -> int:
        return attrs["out"] * attrs["in"] + (attrs["out"] if attrs["bias"] else 0)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return attrs["out"] * attrs["in"]

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return attrs["out"] if attrs["bias"] else 0

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"  # its input is a vector, whose field is already the whole flattened map

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Linear", [args.src("in"), args.src("out")], args.keyword("bias", "bias", True))
