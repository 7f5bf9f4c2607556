"""Ops that merge several tensors: element-wise sum and channel concatenation."""

from __future__ import annotations

from typing import Any

from .base import CodeArgs, Shape, ShapeError, Weightless, prod, register


class _Merge(Weightless):
    """Two or more inputs, no attributes, written as an expression in forward; the field is their union."""

    category = "merge"
    arity = (2, None)
    module = False
    attrs = {}

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "merge"


@register
class Add(_Merge):
    name = "add"
    summary = "element-wise sum of two or more tensors of one shape"

    def label(self, attrs: dict[str, Any]) -> str:
        return "+"

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for shape in inputs[1:]:
            if shape != first:
                raise ShapeError("cannot add tensors of different shapes",
                                 hint="a projection (1x1 conv with the same stride) on the skip path "
                                      "makes the shapes agree")
        return first

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return (len(inputs) - 1) * prod(output)

    def emit(self, args: CodeArgs) -> str:
        count = args.values["inputs"]
        return " + ".join(f"{{{i}}}" for i in range(count))


@register
class Concat(_Merge):
    name = "concat"
    channels = "sum"
    summary = "concatenation along channels"

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        first = inputs[0]
        for shape in inputs[1:]:
            if len(shape) != len(first) or shape[1:] != first[1:]:
                raise ShapeError("cannot concatenate tensors whose heights or widths differ",
                                 hint="crop or resize one of them first")
        return (sum(s[0] for s in inputs), *first[1:])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0  # a copy, no arithmetic

    def emit(self, args: CodeArgs) -> str:
        count = args.values["inputs"]
        return "torch.cat([" + ", ".join(f"{{{i}}}" for i in range(count)) + "], 1)"
