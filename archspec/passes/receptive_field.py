"""Receptive fields, exactly: size, effective stride and centre offset of every value.

The quantities of Araujo, Norris and Sim, "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019), computed forward through the
graph, one axis at a time. Input pixel centres sit at 0, 1, 2, … For a window
with kernel k (dilation folded in), stride s and padding p over an input with
receptive field size r, jump j and first-unit centre c::

    r' = r + (k - 1) * j        j' = j * s        c' = c + ((k - 1) / 2 - p) * j

Jumps and centres are Fractions, so upsampling (a jump below one) stays exact.
Where paths merge (add, concat) the field is the union of the paths' fields;
paths whose jumps or centres differ are reported as misaligned.

>>> from archspec.compiler import compile_spec
>>> fields = receptive_fields(compile_spec("specs/vgg/vgg16.yaml"))
>>> fields.of("features").size
(212, 212)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import Diagnostics, SpecError
from ..ir.flat import NETWORK_INPUT, flatten
from ..ir.graph import Network
from ..ops import OPS, Shape, Window
from .shapes import infer_shapes


@dataclass(frozen=True)
class Axis:
    size: int
    jump: int | Fraction
    start: int | Fraction  # centre of the first output unit's field, in input pixels

    def through(self, window: Window) -> "Axis":
        shift = _exact(Fraction(window.kernel - 1, 2) - window.padding) if window.kernel % 2 == 0 else (
            (window.kernel - 1) // 2 - window.padding)
        return Axis(_exact(self.size + (window.kernel - 1) * self.jump), _exact(self.jump * window.stride),
                    _exact(self.start + shift * self.jump))

    @property
    def low(self) -> Fraction:
        return self.start - Fraction(self.size - 1, 2)

    @property
    def high(self) -> Fraction:
        return self.start + Fraction(self.size - 1, 2)


@dataclass(frozen=True)
class Field:
    h: Axis
    w: Axis

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.h.size), int(self.w.size))

    @property
    def stride(self) -> tuple[Fraction, Fraction]:
        return (self.h.jump, self.w.jump)

    @property
    def start(self) -> tuple[Fraction, Fraction]:
        return (self.h.start, self.w.start)

    def to_json(self, name: str) -> dict:
        return {"name": name, "rf": list(self.size), "stride": [_number(v) for v in self.stride],
                "start": [_number(v) for v in self.start]}


def _exact(value: int | Fraction) -> int | Fraction:
    """Keep whole numbers as ints: Fraction arithmetic is slow, and most fields never need it."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def _number(value: Fraction) -> int | str:
    """An exact value for JSON: an int when whole, else the string 'p/q'."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@dataclass
class FieldReport:
    fields: dict[str, Field]  # every leaf path, and every container path (`layer1`)
    order: list[str]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def of(self, name: str) -> Field:
        return self.fields[name]


INPUT_FIELD = Field(Axis(1, 1, 0), Axis(1, 1, 0))


def receptive_fields(network: Network, input_shape: Shape | None = None) -> FieldReport:
    """Fields of every value for an input (C, H, W); global and adaptive ops need the input size."""
    input_shape = tuple(input_shape or network.input_shape)
    shapes = infer_shapes(network, input_shape)
    if not shapes.ok:
        raise SpecError(shapes.diagnostics.errors)
    known = dict(shapes.shapes)
    known[NETWORK_INPUT] = input_shape
    graph = flatten(network)
    report = FieldReport({NETWORK_INPUT: INPUT_FIELD}, [])
    for leaf in graph.leaves:
        node = leaf.node
        fields = [report.fields[path] for path in leaf.inputs]
        rule = OPS[node.op].rf(node.attrs)
        if rule == "merge":
            result = _union(fields, leaf.path, node, report.diagnostics)
        elif rule == "pointwise":
            result = fields[0]
        elif rule in ("global", "adaptive"):
            result = _whole_input(fields[0], known[leaf.inputs[0]], node, rule, report.diagnostics)
        else:
            result = Field(fields[0].h.through(rule[0]), fields[0].w.through(rule[1]))
        report.fields[leaf.path] = result
        report.order.append(leaf.path)
    for container, leaf_path in graph.containers.items():
        report.fields[container] = report.fields[leaf_path]
    return report


def _union(fields: list[Field], path: str, node, diagnostics: Diagnostics) -> Field:
    axes = []
    for axis_name in ("h", "w"):
        axes_in = [getattr(f, axis_name) for f in fields]
        if len({a.jump for a in axes_in}) > 1 or len({a.start for a in axes_in}) > 1:
            diagnostics.warning(node.span, f"the inputs of '{path}' are misaligned along {axis_name}: "
                                f"strides {sorted({str(a.jump) for a in axes_in})}, "
                                f"centres {sorted({str(a.start) for a in axes_in})}",
                                hint="the merged field is the union; an output unit mixes input positions "
                                     "that are not centred alike")
        low = min(a.low for a in axes_in)
        high = max(a.high for a in axes_in)
        jump = max(a.jump for a in axes_in)
        axes.append(Axis(int(high - low) + 1, jump, _exact(Fraction(low + high) / 2)))
    return Field(*axes)


def _whole_input(source: Field, shape: Shape, node, rule: str, diagnostics: Diagnostics) -> Field:
    """An op that sees its whole input (flatten, linear) or adaptive windows over it."""
    if len(shape) != 3:
        return source  # already global: a vector's field is the field of what was flattened
    _, height, width = shape
    out = node.attrs.get("size", (1, 1)) if rule == "adaptive" else (1, 1)
    axes = []
    for axis, size, count in ((source.h, height, out[0]), (source.w, width, out[1])):
        if size % count:
            diagnostics.warning(node.span, f"adaptive pooling from {size} to {count} uses windows of unequal "
                                "size; the field given is that of the first window")
        kernel = -(-size // count)
        axes.append(axis.through(Window(kernel, size // count, 0)))
    return Field(*axes)
