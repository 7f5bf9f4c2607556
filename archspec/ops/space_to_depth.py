"""Space-to-depth: each f×f block of positions becomes f² times the channels (YOLOv2's passthrough)."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, call, register, require_rank, window


@register
class SpaceToDepth(Weightless):
    name = "space_to_depth"
    group = "reshape"
    summary = "moves each f×f block of positions into channels, C×H×W to (C·f²)×(H/f)×(W/f) (nn.PixelUnshuffle)"
    attrs = {"factor": Attr("int", 2, minimum=1, doc="block side f")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        channels, height, width = require_rank(inputs, 3, "space_to_depth")
        factor = attrs["factor"]
        if height % factor or width % factor:
            raise ShapeError(f"needs a height and width divisible by {factor}, got {height}x{width}")
        return (channels * factor * factor, height // factor, width // factor)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0  # a reordering

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        return window(attrs["factor"], attrs["factor"], 0), window(attrs["factor"], attrs["factor"], 0)

    def label(self, attrs: dict[str, Any]) -> str:
        return f"space_to_depth /{attrs['factor']}"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.PixelUnshuffle", [args.src("factor")], [])
