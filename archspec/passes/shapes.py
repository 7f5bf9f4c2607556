"""Shape inference for any input size, over the IR.

Lowering fixes every constructor argument at the spec's default input; this
pass asks whether the same network accepts another input and what every
tensor's shape is then. It never builds a tensor.

>>> from archspec.compiler import compile_spec
>>> network = compile_spec("specs/resnet/resnet50.yaml")
>>> infer_shapes(network, (3, 320, 256)).shapes["layer4"]
(2048, 10, 8)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..errors import Diagnostics, SpecError
from ..ir.flat import NETWORK_INPUT
from ..ir.graph import Module, Network
from ..ops import OPS, Shape, ShapeError
from ..ops.base import fmt_shape


@dataclass
class ShapeResult:
    shapes: dict[str, Shape]  # full value path -> shape, for every node that could be inferred, and "input"
    outputs: list[Shape | None]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.errors


def infer_shapes(network: Network, input_shape: Shape) -> ShapeResult:
    """Shapes of every value for `input_shape` (C, H, W); problems are collected, not raised."""
    diagnostics = Diagnostics()
    shapes: dict[str, Shape] = {NETWORK_INPUT: tuple(input_shape)}
    local = _run(network.root, [tuple(input_shape)], "", shapes, diagnostics)
    outputs = [local.get(network.root.value(name)) for name in network.root.outputs]
    return ShapeResult(shapes, outputs, diagnostics)


def module_output_shapes(module: Module, input_shapes: list[Shape], path: str) -> list[Shape | None]:
    """Output shapes of one module for other input shapes (a shared block applied again, as the layer at
    `path`, which the diagnostics name as `infer_shapes` does); raises SpecError."""
    diagnostics = Diagnostics()
    local = _run(module, input_shapes, path, {}, diagnostics)
    diagnostics.check()
    return [local.get(module.value(name)) for name in module.outputs]


def _run(module: Module, input_shapes: Sequence[Shape | None], prefix: str, shapes: dict[str, Shape],
         diagnostics: Diagnostics) -> dict[str, Shape | None]:
    local: dict[str, Shape | None] = dict(zip(module.inputs, input_shapes))
    for node in module.nodes:
        path = f"{prefix}.{node.name}" if prefix else node.name
        found = [local.get(module.value(source)) for source in node.inputs]
        inputs = [s for s in found if s is not None]
        shape = None
        if len(inputs) == len(found):
            if node.child is not None:  # a call
                inner = _run(node.child, inputs, path, shapes, diagnostics)
                outs = [inner.get(node.child.value(name)) for name in node.child.outputs]
                shape = outs[0] if len(outs) == 1 else None
                if len(outs) > 1:
                    for key, out in zip(node.child.output_names(), outs):
                        local[f"{node.name}.{key}"] = out
                        if out is not None:
                            shapes[f"{path}.{key}"] = out
            elif node.op in OPS and not node.errors:  # a stand-in for a failed layer has no attributes to use
                shape = _infer_op(node, inputs, path, diagnostics)
                keys = OPS[node.op].output_names(node.attrs)
                pieces = OPS[node.op].pieces(node.attrs, shape) if keys is not None and shape is not None else None
                if keys is not None and pieces is not None:
                    for key, piece in zip(keys, pieces):
                        local[f"{node.name}.{key}"] = shapes[f"{path}.{key}"] = piece
        local[node.name] = shape
        if shape is not None:
            shapes[path] = shape
    return local


def _infer_op(node, inputs: list[Shape], path: str, diagnostics: Diagnostics) -> Shape | None:
    try:
        return OPS[node.op].infer(node.attrs, inputs)
    except ShapeError as error:
        got = " and ".join(fmt_shape(s) for s in inputs)
        diagnostics.error(node.span, f"{error.about(node.op, path)} (input {got})", error.hint)
        return None


def check_input(network: Network, input_shape: Shape) -> ShapeResult:
    """Like infer_shapes, but raises SpecError when the network cannot take the input."""
    result = infer_shapes(network, input_shape)
    if not result.ok:
        raise SpecError(result.diagnostics.errors)
    return result


def accepts(network: Network, input_shape: Shape) -> bool:
    """Whether the network takes this input (C, H, W)."""
    return infer_shapes(network, input_shape).ok


def accepted_sizes(network: Network, low: int, high: int) -> list[int]:
    """Square input sizes S in [low, high] for which the network takes (C, S, S)."""
    channels = network.input_shape[0]
    return [size for size in range(low, high + 1) if accepts(network, (channels, size, size))]


def nearest_accepted(network: Network, input_shape: Shape, reach: int = 256) -> tuple[Shape | None, Shape | None]:
    """The nearest inputs below and above `input_shape` (both sides moved alike) that the network takes."""
    channels, height, width = input_shape

    def search(direction: int) -> Shape | None:
        for step in range(1, reach + 1):
            shape = (channels, height + direction * step, width + direction * step)
            if min(shape[1:]) >= 1 and accepts(network, shape):
                return shape
        return None

    return search(-1), search(1)
