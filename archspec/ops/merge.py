"""Ops that merge several tensors: element-wise sum and product, and channel concatenation.

The element-wise ones broadcast as PyTorch does between tensors of one rank: a
size of 1 stretches over the other's, so a [C, 1, 1] gate scales a [C, H, W]
map (squeeze-and-excitation)."""

from __future__ import annotations

from typing import Any

from .base import CodeArgs, Shape, ShapeError, Weightless, prod, register


class _Merge(Weightless):
    """Two or more inputs, no attributes, written as an expression in forward; the field is their union."""
    output_for_backward = False  # the gradient passes through unchanged or sliced

    category = "merge"
    arity = (2, None)
    module = False
    attrs = {}

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "merge"


_AXES = ("channels", "heights", "widths")


def broadcast(inputs: list[Shape], verb: str, hint: str) -> Shape:
    """The shape of an element-wise merge: per axis, the sizes agree or all but one of them are 1."""
    first = inputs[0]
    if any(len(shape) != len(first) for shape in inputs):
        raise ShapeError(f"cannot {verb} tensors of different ranks", hint=hint)
    result = []
    for axis, sizes in enumerate(zip(*inputs)):
        wide = {size for size in sizes if size != 1}
        if len(wide) > 1:
            what = _AXES[axis] if len(first) == 3 else "features"
            raise ShapeError(f"cannot {verb} tensors whose {what} differ: {' and '.join(map(str, sizes))}",
                             hint=f"{hint}; a size of 1 broadcasts over any other")
        result.append(wide.pop() if wide else 1)
    return tuple(result)


class _Elementwise(_Merge):
    operator = ""
    verb = ""
    hint = ""

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return broadcast(inputs, self.verb, self.hint)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return (len(inputs) - 1) * prod(output)  # one operation per output element for each extra input

    def emit(self, args: CodeArgs) -> str:
        count = args.values["inputs"]
        return f" {self.operator} ".join(f"{{{i}}}" for i in range(count))

    def emit_in_place(self, args: CodeArgs) -> str:
        rest = f" {self.operator} ".join(f"{{{i}}}" for i in range(1, args.values["inputs"]))
        return f"{{0}} {self.operator}= {rest}"


@register
class Add(_Elementwise):
    name = "add"
    summary = "element-wise sum of two or more tensors, broadcasting sizes of 1"
    operator = "+"
    verb = "add"
    in_place = True  # the gradient passes to every input unchanged: the sum may overwrite its first input
    hint = "a projection (1x1 conv with the same stride) on the skip path makes the shapes agree"

    def label(self, attrs: dict[str, Any]) -> str:
        return "+"


@register
class Mul(_Elementwise):
    name = "mul"
    summary = "element-wise product of two or more tensors, broadcasting sizes of 1 (a [C, 1, 1] gate over a map)"
    operator = "*"
    verb = "multiply"
    output_for_backward = False  # the backward pass needs the factors, not their product
    hint = "a gate is [C, 1, 1] (after 'adaptive_avgpool: {size: 1}') or the map's own shape"

    def label(self, attrs: dict[str, Any]) -> str:
        return "×"


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
