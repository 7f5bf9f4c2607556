"""Receptive fields, exactly: size, effective stride and centre offset of every value.

The quantities of Araujo, Norris and Sim, "Computing Receptive Fields of
Convolutional Neural Networks" (Distill, 2019), computed forward through the
graph, one axis at a time, with input pixel centres at 0, 1, 2, …

For networks that only downsample, every output unit's field is the previous
unit's moved by the effective stride, and the classic recurrence holds::

    size' = size + (k - 1) * jump     jump' = jump * s     centre' = centre + ((k - 1) / 2 - p) * jump

After upsampling (transposed convolution, nearest or bilinear resizing,
unpooling), neighbouring units no longer have translated fields: with nearest
x2, units 0 and 1 read the same input unit. So an axis is kept as a *period*:
the exact field (first and last input pixel) of each of `period` consecutive
units, the others following by translation. Each op says which input units an
output unit reads (`ops.Reads`); fields are unions of the fields read. Strides
are Fractions (a jump below one after upsampling), fields integer pixel ranges,
so nothing drifts. The reported size is the largest field in the period, the
stride the jump, the centre that of unit 0's field. Where paths merge (add,
concat) a unit's field is the union of the paths' fields; paths whose units
are not centred alike are reported as misaligned.

>>> from archspec.compiler import compile_spec
>>> fields = receptive_fields(compile_spec("specs/vgg/vgg16.yaml"))
>>> fields.of("features").size
(212, 212)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Iterable

from ..errors import Diagnostics, SpecError
from ..ir.flat import NETWORK_INPUT
from ..ir.graph import Network
from ..ops import OPS, Reads, Shape

if TYPE_CHECKING:
    from .pipeline import Analysis

# The first and last input pixel of one unit's field; None when a unit reads nothing. (Not a
# `errors.Span`, which is a place in a spec file.)
PixelRange = tuple[int, int] | None

MAX_PERIOD = 4096


@dataclass(frozen=True)
class Axis:
    """Fields of consecutive units along one axis: `ranges[o]` for units 0 … period - 1."""

    jump: int | Fraction
    ranges: tuple[PixelRange, ...]

    @property
    def period(self) -> int:
        return len(self.ranges)

    def range_of(self, unit: int) -> PixelRange:
        """The field of any unit: the one in the period, moved by whole periods."""
        turns, index = divmod(unit, self.period)
        base = self.ranges[index]
        if base is None:
            return None
        shift = turns * self.period * self.jump
        if not isinstance(shift, int):
            shift = shift.numerator if shift.denominator == 1 else _not_whole(shift)
        return base[0] + shift, base[1] + shift

    def through(self, rule: Reads) -> "Axis":
        ratio = Fraction(rule.ratio)
        step = ratio.numerator  # input units advanced every `ratio.denominator` output units
        period = ratio.denominator * (self.period // math.gcd(self.period, step))
        if period > MAX_PERIOD:
            raise SpecError([])  # caught by the pass, which reports it located
        ranges = tuple(_union(self.range_of(unit) for unit in self._ends(rule.units(o))) for o in range(period))
        return Axis(_exact(self.jump * ratio), ranges)

    def _ends(self, units: Iterable[int]) -> Iterable[int]:
        """The units of a long window whose fields can hold its union's ends: fields move right by one
        period's jump every `period` units, so the lowest start lies among the first `period` units
        and the highest end among the last. A huge pooling window costs two periods, not its size."""
        if isinstance(units, range) and len(units) > 2 * self.period:
            return itertools.chain(units[:self.period], units[-self.period:])
        return units

    @property
    def size(self) -> int:
        return max((high - low + 1 for low, high in filter(None, self.ranges)), default=0)

    @property
    def centre(self) -> int | Fraction:
        """The centre of unit 0's field, in input pixels."""
        first = self.ranges[0]
        return _exact(Fraction(first[0] + first[1], 2)) if first else 0


def _not_whole(value: Fraction) -> int:
    raise AssertionError(f"a period's shift must be a whole number of pixels, got {value}")


def _union(ranges: Iterable[PixelRange]) -> PixelRange:
    lows, highs = [], []
    for pixels in ranges:
        if pixels is not None:
            lows.append(pixels[0])
            highs.append(pixels[1])
    return (min(lows), max(highs)) if lows else None


def _exact(value: int | Fraction) -> int | Fraction:
    """Keep whole numbers as ints: Fraction arithmetic is slow, and most fields never need it."""
    if isinstance(value, Fraction) and value.denominator == 1:
        return value.numerator
    return value


def _number(value: int | Fraction) -> int | str:
    """An exact value for JSON: an int when whole, else the string 'p/q'."""
    value = Fraction(value)
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


@dataclass(frozen=True)
class Field:
    h: Axis
    w: Axis

    @property
    def size(self) -> tuple[int, int]:
        return (self.h.size, self.w.size)

    @property
    def stride(self) -> tuple[int | Fraction, int | Fraction]:
        return (self.h.jump, self.w.jump)

    @property
    def centre(self) -> tuple[int | Fraction, int | Fraction]:
        """The centre of the first unit's field, (row, column) in input pixels."""
        return (self.h.centre, self.w.centre)

    def to_json(self, name: str) -> dict:
        return {"name": name, "rf": list(self.size), "stride": [_number(v) for v in self.stride],
                # "start" in the JSON document for compatibility: the value is the field's centre.
                "start": [_number(v) for v in self.centre]}


@dataclass
class FieldReport:
    input_shape: Shape  # the input (C, H, W) the fields were computed at
    fields: dict[str, Field]  # every leaf path, and every container path (`layer1`)
    order: list[str]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def of(self, name: str) -> Field:
        return self.fields[name]


INPUT_FIELD = Field(Axis(1, ((0, 0),)), Axis(1, ((0, 0),)))


def receptive_fields(network: Network, input_shape: Shape | None = None) -> FieldReport:
    """Fields of every value for an input (C, H, W); ops that see their whole input need the size."""
    from .pipeline import Analysis

    return Analysis(network, input_shape).fields


def fields_pass(analysis: Analysis) -> FieldReport:
    """Fields of every leaf of the flat view and of every container, from the shapes already inferred."""
    known = analysis.shapes.shapes
    graph = analysis.flat
    report = FieldReport(analysis.input_shape, {NETWORK_INPUT: INPUT_FIELD}, [])
    for leaf in graph.leaves:
        node = leaf.node
        fields = [report.fields[path] for path in leaf.inputs]
        rule = OPS[node.op].rf(node.attrs, [known[path] for path in leaf.inputs])
        if rule == "merge":
            shapes = [known[path] for path in leaf.inputs]
            result = _merge(fields, shapes, known[leaf.path], leaf.path, node, report.diagnostics)
        elif rule == "pointwise":
            result = fields[0]
        elif isinstance(rule, str):  # an op's rule misspelt: an error of archspec, not of the spec
            raise ValueError(f"op '{node.op}' gives the receptive-field rule {rule!r}; the named rules are "
                             "'pointwise' and 'merge'")
        else:
            try:
                result = Field(fields[0].h.through(rule[0]), fields[0].w.through(rule[1]))
            except SpecError:
                raise SpecError.at(node.span, f"the receptive field of '{leaf.path}' repeats only every more "
                                   f"than {MAX_PERIOD} units; archspec does not follow it") from None
        report.fields[leaf.path] = result
        for key in node.output_names() or ():  # a split's pieces see what their input saw
            report.fields[f"{leaf.path}.{key}"] = result
        report.order.append(leaf.path)
    for container, leaf_path in graph.containers.items():
        report.fields[container] = report.fields[leaf_path]
    return report


def _merge(fields: list[Field], shapes: list[Shape], output: Shape, path: str, node,
           diagnostics: Diagnostics) -> Field:
    axes = []
    for index, axis_name in enumerate(("h", "w")):
        inputs, broadcast = [], []
        for field_, shape in zip(fields, shapes):
            axis = getattr(field_, axis_name)
            if len(shape) == 3 and shape[1 + index] == 1 < output[1 + index]:
                broadcast.append(axis)  # one unit read by every output unit (a [C, 1, 1] gate)
            else:
                inputs.append(axis)
        if broadcast:
            axes.append(_broadcast(inputs, broadcast, output[1 + index]))
            continue
        period = math.lcm(*(a.period for a in inputs))
        ranges = tuple(_union(a.range_of(o) for a in inputs) for o in range(period))
        centres = {tuple(_centre(a.range_of(o)) for o in range(period)) for a in inputs}
        if len({a.jump for a in inputs}) > 1 or len(centres) > 1:
            diagnostics.warning(node.span, f"the inputs of '{path}' are misaligned along {axis_name}: their "
                                "units' fields are not centred alike",
                                hint="the merged field is the union; an output unit mixes input regions that "
                                     "are not centred on the same pixel")
        axes.append(Axis(inputs[0].jump, ranges))
    return Field(*axes)


def _broadcast(inputs: list[Axis], broadcast: list[Axis], size: int) -> Axis:
    """Every unit reads the one unit of a broadcast input (a squeeze-and-excitation gate), whose field does
    not move with it: every unit gets the union of that field and the other inputs' fields over all `size`
    units, at stride 0. Exact when the gate pooled the map it scales, whose every field it then holds."""
    ranges = [a.range_of(0) for a in broadcast]
    for axis in inputs:
        ranges += [axis.range_of(o) for o in range(min(axis.period, size))]
        ranges += [axis.range_of(o) for o in range(max(size - axis.period, 0), size)]
    return Axis(0, (_union(ranges),))


def _centre(pixels: PixelRange) -> Fraction | None:
    return None if pixels is None else Fraction(pixels[0] + pixels[1], 2)
