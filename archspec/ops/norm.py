"""Normalisation."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Op, Shape, ShapeError, call, prod, register, require_rank


@register
class BatchNorm(Op):
    name = "bn"
    category = "norm"
    summary = "batch normalisation over channels (nn.BatchNorm2d, or nn.BatchNorm1d on vectors)"
    attrs = {
        "eps": Attr("float", 1e-5, above=0),
        "momentum": Attr("float", 0.1),
        "affine": Attr("bool", True),
        "features": Attr("int", minimum=1, inferred=True, channels=True, doc="channels; inferred from the input"),
    }

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        if "features" not in attrs and inputs[0]:
            attrs["features"] = inputs[0][0]
        attrs["rank"] = len(inputs[0])  # BatchNorm2d on feature maps, BatchNorm1d on vectors
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        shape = inputs[0]
        if len(shape) not in (1, 3):  # nn.BatchNorm2d takes feature maps, nn.BatchNorm1d vectors: no other rank
            require_rank(inputs, 3, "bn")
        if len(shape) != attrs.get("rank", len(shape)):
            require_rank(inputs, attrs["rank"], "bn")
        if shape[0] != attrs["features"]:
            raise ShapeError(f"expects {attrs['features']} channels, got {shape[0]}")
        return shape

    def params(self, attrs: dict[str, Any]) -> int:
        return 2 * attrs["features"] if attrs["affine"] else 0

    def buffers(self, attrs: dict[str, Any]) -> int:
        return 2 * attrs["features"] + 1  # running mean, running var, num_batches_tracked

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 2 * prod(output)  # a scale and a shift per element (inference form)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def emit(self, args: CodeArgs) -> str:
        keywords = args.keyword("eps", "eps", 1e-5) + args.keyword("momentum", "momentum", 0.1)
        keywords += args.keyword("affine", "affine", True)
        rank = args.values.get("rank", 3)
        return call("nn.BatchNorm2d" if rank == 3 else "nn.BatchNorm1d", [args.src("features")], keywords)
