"""Ops that change resolution without weights: upsampling, resizing to another tensor, unpooling, cropping.

Their receptive-field rules say which input units each output unit reads, so
fields stay exact through decoders (see passes/receptive_field.py).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

from .base import (Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, axis_pair, call, fmt_shape, pair_keyword,
                   pair_source, prod, register, require_rank, size_text, stride_text)

_MODES = ("nearest", "bilinear")


def interpolation_reads(size_in: int, size_out: int, mode: str, scale: Fraction | None = None) -> Reads:
    """Input units read by each output unit of nearest or bilinear (align_corners=False) interpolation.

    PyTorch maps output unit o to the source position (o + 1/2) * scale - 1/2 (bilinear) or
    floor(o * scale) (nearest), with scale = 1 / factor when a factor is given, else in / out.
    """
    scale = scale if scale is not None else Fraction(size_in, size_out)
    if mode == "nearest":
        return Reads(scale, lambda o: (math.floor(o * scale),))

    def bilinear(o: int) -> tuple[int, ...]:
        source = (o + Fraction(1, 2)) * scale - Fraction(1, 2)
        low = math.floor(source)
        return (low,) if source == low else (low, low + 1)  # a zero weight reads nothing

    return Reads(scale, bilinear)


@register
class Upsample(Weightless):
    output_for_backward = True  # not known to be safe to overwrite
    name = "upsample"
    category = "resample"
    summary = "upsampling by an integer factor, nearest or bilinear (nn.Upsample)"
    attrs = {
        "factor": Attr("pair", 2, minimum=1, doc="an int or [h, w]"),
        "mode": Attr("choice", "nearest", choices=_MODES),
    }

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, h, w = require_rank(inputs, 3, "upsample")
        return (c, h * attrs["factor"][0], w * attrs["factor"][1])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) * (4 if attrs["mode"] == "bilinear" else 1)  # a weighted sum of four, or a copy

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        return axis_pair(interpolation_reads(n, n * f, attrs["mode"], Fraction(1, f))
                         for n, f in zip(inputs[0][1:], attrs["factor"]))

    def label(self, attrs: dict[str, Any]) -> str:
        return f"upsample {stride_text(attrs['factor'], '×')[2:]} {attrs['mode']}"

    def emit(self, args: CodeArgs) -> str:
        keywords = [f"scale_factor={pair_source(args, 'factor')}", f"mode={args.src('mode')}"]
        if args.values.get("mode") == "bilinear":
            keywords.append("align_corners=False")
        return call("nn.Upsample", [], keywords)


@register
class Resize(Weightless):
    output_for_backward = True  # not known to be safe to overwrite
    name = "resize"
    category = "resample"
    summary = "resizes its first input to the height and width of its second (F.interpolate, as FPN does)"
    arity = 2
    module = False
    attrs = {"mode": Attr("choice", "nearest", choices=_MODES)}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, _, _ = require_rank(inputs, 3, "resize")
        _, h, w = require_rank(inputs[1:], 3, "resize")
        return (c, h, w)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) * (4 if attrs["mode"] == "bilinear" else 1)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        return axis_pair(interpolation_reads(n, m, attrs["mode"]) for n, m in zip(inputs[0][1:], inputs[1][1:]))

    def emit(self, args: CodeArgs) -> str:
        extra = ", align_corners=False" if args.values.get("mode") == "bilinear" else ""
        return f"F.interpolate({{0}}, size={{1}}.shape[-2:], mode={args.src('mode')}{extra})"


@register
class MaxUnpool(Weightless):
    output_for_backward = True  # not known to be safe to overwrite
    name = "maxunpool"
    category = "resample"
    summary = "puts each value back where its max-pool found it (F.max_unpool2d; SegNet's decoder)"
    arity = 2  # the values, and the max-pool whose indices it reads
    reads_indices = 1
    # The function, not nn.MaxUnpool2d: that module does not script (torch.jit fails inside it), and it
    # holds no state, so the state_dict is the same.
    module = False
    attrs = {
        "kernel": Attr("pair", minimum=1, inferred=True, doc="taken from the max-pool"),
        "stride": Attr("pair", minimum=1, inferred=True, doc="taken from the max-pool"),
        "padding": Attr("pair", minimum=0, inferred=True, doc="taken from the max-pool"),
    }

    def link(self, attrs: dict[str, Any], producer: Any) -> None:
        """Take the window of the max-pool whose indices are read; a different one given is an error."""
        if producer is None or producer.op != "maxpool" or not producer.attrs.get("indices"):
            raise ShapeError("reads the indices of a max-pool with 'indices: true' as its second input",
                             hint="write e.g. 'maxpool: {name: pool1, kernel: 2, indices: true}' and "
                                  "'maxunpool: {from: [x, pool1]}'")
        if producer.attrs.get("dilation", (1, 1)) != (1, 1):
            # nn.MaxUnpool2d knows no dilation: its forward fails with "invalid max index".
            raise ShapeError(f"reads the indices of the dilated max-pool '{producer.name}', which an unpooling "
                             "cannot invert", hint="give the max-pool 'dilation: 1'")
        for key in ("kernel", "stride", "padding"):
            if key in attrs and attrs[key] != producer.attrs[key]:
                raise ShapeError(f"has {key} {list(attrs[key])} but the max-pool '{producer.name}' has "
                                 f"{list(producer.attrs[key])}", hint=f"leave '{key}' out to take the pool's")
            attrs[key] = producer.attrs[key]

    def label(self, attrs: dict[str, Any]) -> str:
        return f"maxunpool {size_text(attrs['kernel'])}{stride_text(attrs['stride'], '×')}"

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, h, w = require_rank(inputs, 3, "maxunpool")
        if inputs[0] != inputs[1]:
            raise ShapeError(f"unpools a {fmt_shape(inputs[0])} tensor with the indices of a "
                             f"{fmt_shape(inputs[1])} pooling", hint="the values must have the shape the "
                             "max-pool produced")
        sizes = tuple((n - 1) * s - 2 * p + k for n, k, s, p in
                      zip((h, w), attrs["kernel"], attrs["stride"], attrs["padding"]))
        return (c, *sizes)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(inputs[0])  # one write per pooled value

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        def rule(k: int, s: int, p: int) -> Reads:
            # The maximum may have been anywhere in its window: o reads every input whose window holds o.
            return Reads(Fraction(1, s), lambda o: range(-(-(o + p - k + 1) // s), (o + p) // s + 1))

        return axis_pair(rule(k, s, p) for k, s, p in zip(attrs["kernel"], attrs["stride"], attrs["padding"]))

    def emit(self, args: CodeArgs) -> str:
        keywords = [f"kernel_size={pair_source(args, 'kernel')}"]
        if args.values.get("stride") != args.values.get("kernel") or "stride" not in args.values:
            keywords.append(f"stride={pair_source(args, 'stride')}")
        keywords += pair_keyword(args, "padding", "padding", 0)
        return call("F.max_unpool2d", ["{0}", "{1}"], keywords)


CENTER_CROP = '''def center_crop(x: Tensor, like: Tensor) -> Tensor:
    """The centre of x, cropped to the height and width of like (U-Net's skip connections)."""
    height, width = like.shape[-2:]
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top:top + height, left:left + width]'''


@register
class Crop(Weightless):
    output_for_backward = True  # a view of its input
    name = "crop"
    category = "resample"
    summary = "crops the centre of its first input to the height and width of its second"
    arity = 2
    module = False
    helper = ("center_crop", CENTER_CROP)
    attrs = {}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, h, w = require_rank(inputs, 3, "crop")
        _, th, tw = require_rank(inputs[1:], 3, "crop")
        if th > h or tw > w:
            raise ShapeError(f"cannot crop {h}x{w} to the larger {th}x{tw}")
        return (c, th, tw)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0  # a view

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        offsets = ((inputs[0][1] - inputs[1][1]) // 2, (inputs[0][2] - inputs[1][2]) // 2)
        return axis_pair(Reads(Fraction(1), _shift(offset)) for offset in offsets)

    def emit(self, args: CodeArgs) -> str:
        return "center_crop({0}, {1})"


def _shift(offset: int) -> Callable[[int], tuple[int]]:
    return lambda o: (o + offset,)
