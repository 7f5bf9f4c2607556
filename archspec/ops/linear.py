"""Fully connected layers."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Op, Shape, ShapeError, call, prod, register, require_rank


@register
class Linear(Op):
    output_for_backward = False  # the backward pass needs the input and the weights
    name = "linear"
    channels = "out"
    whole_input = True
    category = "linear"
    summary = "fully connected layer (nn.Linear)"
    attrs = {
        "out": Attr("int", minimum=1, doc="output features"),
        "bias": Attr("bool", True),
        "channels_last": Attr("bool", False, doc="act on each pixel's channels of a channels-last map (H, W, C), "
                                                 "after a permute, as ConvNeXt's block does"),
        "in": Attr("int", minimum=1, inferred=True, channels=True, doc="input features; inferred from the input"),
    }

    def sees_whole_input(self, attrs: dict[str, Any]) -> bool:
        return not attrs["channels_last"]  # channels-last, it mixes the channels of one pixel

    def label(self, attrs: dict[str, Any]) -> str:
        return f"linear {attrs['out']}"

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        if "in" not in attrs:
            attrs["in"] = self._input(attrs, inputs)[-1]  # a rank error says more than "cannot infer 'in'"
        return attrs

    @staticmethod
    def _input(attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        """A vector, or with `channels_last` a channels-last map; a channels-first map is a mistake (a missing
        flatten), which nn.Linear would silently apply to its width."""
        if not attrs.get("channels_last"):
            return require_rank(inputs, 1)
        if len(inputs[0]) != 3:
            raise ShapeError(f"with 'channels_last: true' expects a channels-last map (H, W, C), got shape "
                             f"{'x'.join(map(str, inputs[0]))}", hint="leave 'channels_last' out on a vector")
        return inputs[0]

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        shape = self._input(attrs, inputs)
        if shape[-1] != attrs["in"]:
            if attrs["channels_last"]:
                raise ShapeError(f"expects {attrs['in']} channels, got {shape[-1]}")
            raise ShapeError(f"expects {attrs['in']} input features, got {shape[-1]}",
                             hint="the spatial size before 'flatten' differs from the one this layer was built "
                                  "for; an adaptive pool before 'flatten' makes it independent of the input size")
        return (*shape[:-1], attrs["out"])

    def params(self, attrs: dict[str, Any]) -> int:
        return attrs["out"] * attrs["in"] + (attrs["out"] if attrs["bias"] else 0)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) * attrs["in"]  # per output feature (of every pixel, channels-last), `in` of them

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) if attrs["bias"] else 0

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        # A vector's field is already the whole flattened map; channels-last, each pixel keeps its own.
        return "pointwise"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Linear", [args.src("in"), args.src("out")], args.keyword("bias", "bias", True))
