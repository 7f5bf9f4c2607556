"""L2 normalisation across channels with a learnable scale per channel (ParseNet; SSD's conv4_3)."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Op, Shape, ShapeError, prod, register, require_rank


@register
class L2Norm(Op):
    name = "l2norm"
    group = "norm"
    summary = "scales each position's channel vector to unit L2 norm, then by a learned weight per channel"
    attrs = {
        "scale": Attr("float", 20.0, doc="initial value of every channel's weight (SSD: 20)"),
        "features": Attr("int", minimum=1, inferred=True, channels=True, doc="channels; inferred from the input"),
    }
    # The weight is a parameter of the enclosing module, not a submodule (torchvision's SSD keeps it as
    # `backbone.scale_weight`), so forward uses it directly.
    forward_form = "self.{attribute}.view(1, -1, 1, 1) * nn.functional.normalize({0})"

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        if "features" not in attrs and inputs[0]:
            attrs["features"] = inputs[0][0]
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        shape = require_rank(inputs, 3, "l2norm")
        if shape[0] != attrs["features"]:
            raise ShapeError(f"expects {attrs['features']} channels, got {shape[0]}")
        return shape

    def params(self, attrs: dict[str, Any]) -> int:
        return attrs["features"]

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0  # element-wise work only (FlopCounterMode counts none of it)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 4 * prod(output)  # square, sum over channels, divide by the norm, scale

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"l2norm ×{attrs['scale']:g}"

    def emit(self, args: CodeArgs) -> str:
        value = args.values.get("scale")
        scale = repr(float(value)) if isinstance(value, (int, float)) else f"float({args.src('scale')})"
        return f"nn.Parameter(torch.full(({args.src('features')},), {scale}))"
