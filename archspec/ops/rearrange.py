"""Ops that move elements without arithmetic: splitting channels, shuffling them, trading them for
resolution, and permuting axes (to channels-last and back)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .base import (AUTO, Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, axis_pair, call, register, require_rank,
                   window)


def list_source(args: CodeArgs, name: str) -> str:
    """A list of sizes as torch's signatures take it (List[int]), `[0, 2, 3, 1]`, where its value is known."""
    value = args.values.get(name)
    return repr(list(value)) if isinstance(value, (list, tuple)) else args.src(name)


class _Rearrange(Weightless):
    category = "reshape"
    output_for_backward = True  # a view of its input (split, permute): overwriting it would change the input

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0  # a view or a copy, no arithmetic


@register
class Split(_Rearrange):
    name = "split"
    module = False
    channels = "pieces"  # each output has the channels of its piece
    summary = "splits the channels into pieces, each an output read as name.0, name.1 … (torch.split, " \
              "torch.chunk; CSP blocks)"
    attrs = {
        "sizes": Attr("shape", AUTO, minimum=1, doc="channels of each piece, in order; or give 'chunks'"),
        "chunks": Attr("int", AUTO, minimum=1, doc="the number of equal pieces; or give 'sizes'"),
    }

    def resolve_auto(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for key in ("sizes", "chunks"):
            if attrs.get(key) is AUTO:
                attrs[key] = None  # which of the two was given is checked against the input in `infer`
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        channels = require_rank(inputs, 3)[0]
        if (attrs["sizes"] is None) == (attrs["chunks"] is None):
            raise ShapeError("needs either 'sizes' (the channels of each piece) or 'chunks' (a number of equal "
                             "pieces), not both", hint=f"e.g. 'chunks: 2', or 'sizes: [{channels // 2}, "
                                                       f"{channels - channels // 2}]'")
        if attrs["chunks"] is not None and channels % attrs["chunks"]:
            raise ShapeError(f"cannot split {channels} channels into {attrs['chunks']} equal chunks",
                             hint="give 'sizes' for pieces of different sizes")
        if attrs["sizes"] is not None and sum(attrs["sizes"]) != channels:
            sizes = " + ".join(map(str, attrs["sizes"]))
            raise ShapeError(f"splits {channels} channels into {sizes} = {sum(attrs['sizes'])}",
                             hint=f"the sizes must add up to the input's {channels} channels")
        return inputs[0]

    def output_names(self, attrs: dict[str, Any]) -> list[str]:
        count = len(attrs["sizes"]) if attrs.get("sizes") else attrs.get("chunks") or 0
        return [str(index) for index in range(count)]

    def piece_channels(self, attrs: dict[str, Any]) -> list[str]:
        if attrs.get("sizes") is not None:
            return [f"sizes[{index}]" for index in range(len(attrs["sizes"]))]
        return ["in_channels // chunks"] * (attrs.get("chunks") or 0)

    def pieces(self, attrs: dict[str, Any], output: Shape) -> list[Shape]:
        channels, *spatial = output
        sizes = attrs["sizes"] or [channels // attrs["chunks"]] * attrs["chunks"]
        return [(size, *spatial) for size in sizes]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        if attrs["sizes"] is not None:
            return "split " + " | ".join(map(str, attrs["sizes"]))
        return f"split in {attrs['chunks']}"

    def emit(self, args: CodeArgs) -> str:
        if "sizes" in args.values and args.values["sizes"] is None:  # left out: the chunks were given
            return f"torch.chunk({{0}}, {args.src('chunks')}, dim=1)"
        return f"torch.split({{0}}, {list_source(args, 'sizes')}, dim=1)"


CHANNEL_SHUFFLE = '''def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """Interleave the channels of `groups` groups, so that grouped convs mix them (ShuffleNet)."""
    batch, channels, height, width = x.shape
    x = x.view(batch, groups, channels // groups, height, width)
    return x.transpose(1, 2).reshape(batch, channels, height, width)'''


@register
class ChannelShuffle(_Rearrange):
    name = "channel_shuffle"
    module = False
    helper = ("channel_shuffle", CHANNEL_SHUFFLE)
    summary = "interleaves the channels of its groups (ShuffleNet's channel shuffle)"
    attrs = {"groups": Attr("int", minimum=1, doc="number of channel groups to interleave")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        channels = require_rank(inputs, 3)[0]
        if channels % attrs["groups"]:
            raise ShapeError(f"cannot shuffle {channels} channels in {attrs['groups']} groups",
                             hint="the groups must divide the channels")
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"channel_shuffle {attrs['groups']}"

    def emit(self, args: CodeArgs) -> str:
        return f"channel_shuffle({{0}}, {args.src('groups')})"


@register
class PixelShuffle(_Rearrange):
    name = "pixel_shuffle"
    category = "resample"
    channels = "in_channels // (factor * factor)"
    summary = "depth to space: r*r channels become an r x r patch of one (nn.PixelShuffle)"
    attrs = {"factor": Attr("int", minimum=1, doc="the upscale factor r")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        channels, height, width = require_rank(inputs, 3)
        r = attrs["factor"]
        if channels % (r * r):
            raise ShapeError(f"cannot rearrange {channels} channels into {r}x{r} patches",
                             hint=f"the channels must be a multiple of {r * r}")
        return (channels // (r * r), height * r, width * r)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        r = attrs["factor"]
        return axis_pair(Reads(Fraction(1, r), lambda o: (o // r,)) for _ in range(2))

    def label(self, attrs: dict[str, Any]) -> str:
        return f"pixel_shuffle ×{attrs['factor']}"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.PixelShuffle", [args.src("factor")], [])


@register
class PixelUnshuffle(_Rearrange):
    name = "pixel_unshuffle"
    category = "resample"
    channels = "in_channels * factor * factor"
    summary = "space to depth: each r x r patch becomes r*r channels (nn.PixelUnshuffle; YOLOv2's passthrough)"
    attrs = {"factor": Attr("int", minimum=1, doc="the downscale factor r")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        channels, height, width = require_rank(inputs, 3)
        r = attrs["factor"]
        if height % r or width % r:
            raise ShapeError(f"cannot cut the {height}x{width} input into {r}x{r} patches",
                             hint=f"its height and width must be multiples of {r}")
        return (channels * r * r, height // r, width // r)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        r = attrs["factor"]
        return window(r, r, 0), window(r, r, 0)

    def label(self, attrs: dict[str, Any]) -> str:
        return f"pixel_unshuffle /{attrs['factor']}"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.PixelUnshuffle", [args.src("factor")], [])


PERMUTE = '''class Permute(nn.Module):
    """The input with its dimensions permuted (torchvision's; ConvNeXt works channels-last)."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)'''


@register
class Permute(_Rearrange):
    name = "permute"
    helper = ("Permute", PERMUTE)
    summary = "permutes the axes, batch first: [0, 2, 3, 1] makes a map channels-last, [0, 3, 1, 2] undoes it"
    attrs = {"dims": Attr("shape", minimum=0, doc="the new order of the axes (N, C, H, W), batch axis 0 first")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        shape = require_rank(inputs, 3)
        dims = list(attrs["dims"])
        if sorted(dims) != [0, 1, 2, 3] or dims[0] != 0:
            raise ShapeError(f"dims {dims} are not an order of the axes 0, 1, 2, 3 that keeps the batch axis 0 "
                             "first", hint="[0, 2, 3, 1] makes a map channels-last, [0, 3, 1, 2] undoes it")
        return tuple(shape[d - 1] for d in dims[1:])

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"  # every pixel keeps its values, only their order in memory changes

    def label(self, attrs: dict[str, Any]) -> str:
        return "permute " + ",".join(map(str, attrs["dims"]))

    def emit(self, args: CodeArgs) -> str:
        return call("Permute", [list_source(args, "dims")], [])
