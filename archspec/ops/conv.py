"""Convolution."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, ClassVar

from .base import (Attr, CodeArgs, Op, Reads, Shape, ShapeError, axis_pair, call, pair_keyword, pair_source, prod,
                   register, require_rank, size_text, stride_text, window, window_out)


def _check_channels(attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
    """The input feature map, once its channels match `in` and `groups` divides both channel counts."""
    shape = require_rank(inputs, 3)
    if shape[0] != attrs["in"]:
        raise ShapeError(f"expects {attrs['in']} input channels, got {shape[0]}")
    groups = attrs["groups"]
    if attrs["in"] % groups or attrs["out"] % groups:
        raise ShapeError(f"groups={groups} must divide both input channels ({attrs['in']}) "
                         f"and output channels ({attrs['out']})")
    return shape


@register
class Conv(Op):
    output_for_backward = False  # the backward pass needs the input and the weights, not the output
    name = "conv"
    channels = "out"
    category = "conv"
    summary = "2-D convolution (nn.Conv2d)"
    attrs = {
        "out": Attr("int", minimum=1, doc="output channels"),
        "kernel": Attr("pair", minimum=1, doc="kernel size, an int or [h, w]"),
        "stride": Attr("pair", 1, minimum=1),
        "padding": Attr("pair", 0, minimum=0),
        "dilation": Attr("pair", 1, minimum=1),
        "groups": Attr("int", 1, minimum=1),
        "bias": Attr("bool", True),
        "in": Attr("int", minimum=1, inferred=True, channels=True, doc="input channels; inferred from the input"),
    }

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        if "in" not in attrs:
            attrs["in"] = require_rank(inputs, 3)[0]  # a rank error says more than "cannot infer 'in'"
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        _, h, w = _check_channels(attrs, inputs)
        sizes = tuple(window_out(n, k, s, p, d) for n, k, s, p, d in
                      zip((h, w), attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"]))
        if min(sizes) < 1:
            raise ShapeError(f"the {attrs['kernel'][0]}x{attrs['kernel'][1]} kernel does not fit the "
                             f"{h}x{w} input (output would be {sizes[0]}x{sizes[1]})",
                             hint="use a larger input or more padding")
        return (attrs["out"], *sizes)

    def params(self, attrs: dict[str, Any]) -> int:
        weight = attrs["out"] * (attrs["in"] // attrs["groups"]) * prod(attrs["kernel"])
        return weight + (attrs["out"] if attrs["bias"] else 0)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) * (attrs["in"] // attrs["groups"]) * prod(attrs["kernel"])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) if attrs["bias"] else 0  # one addition per output for the bias

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        return axis_pair(window(k, s, p, d) for k, s, p, d in
                         zip(attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"]))

    # Marks the stride in a diagram label: "/2" divides the resolution, "×2" (transposed) multiplies it.
    stride_marker = "/"

    def label(self, attrs: dict[str, Any]) -> str:
        text = f"{self.name} {size_text(attrs['kernel'])}, {attrs['out']}"
        text += stride_text(attrs["stride"], self.stride_marker)
        if stride_text(attrs["dilation"]):
            text += f", dilation {size_text(attrs['dilation'])}"
        if attrs["groups"] != 1:
            text += f", groups {attrs['groups']}"
        return text

    torch_class = "nn.Conv2d"
    # The pair keywords the torch class takes after kernel_size, with its defaults (omitted when equal).
    pair_keywords: ClassVar[tuple[tuple[str, int], ...]] = (("stride", 1), ("padding", 0), ("dilation", 1))

    def emit(self, args: CodeArgs) -> str:
        keywords = [f"kernel_size={pair_source(args, 'kernel')}"]
        for name, default in self.pair_keywords:
            keywords += pair_keyword(args, name, name, default)
        keywords += args.keyword("groups", "groups", 1)
        keywords += args.keyword("bias", "bias", True)
        return call(self.torch_class, [args.src("in"), args.src("out")], keywords)


@register
class ConvTranspose(Conv):
    """Shares a convolution's attributes, input-channel inference and parameter count (the weight is
    stored as [in, out / groups, kh, kw] rather than [out, in / groups, kh, kw]: the same number)."""

    name = "conv_transpose"
    summary = "2-D transposed convolution, learned upsampling (nn.ConvTranspose2d)"
    torch_class = "nn.ConvTranspose2d"
    stride_marker = "×"
    pair_keywords = (("stride", 1), ("padding", 0), ("output_padding", 0), ("dilation", 1))
    attrs = {
        **{key: attr for key, attr in Conv.attrs.items() if key != "in"},
        "output_padding": Attr("pair", 0, minimum=0, doc="extra rows/columns on one side of the output"),
        "in": Conv.attrs["in"],
    }

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        _, h, w = _check_channels(attrs, inputs)
        sizes = []
        for n, k, s, p, extra, d in zip((h, w), attrs["kernel"], attrs["stride"], attrs["padding"],
                                        attrs["output_padding"], attrs["dilation"]):
            if extra >= max(s, d):
                raise ShapeError(f"output_padding {extra} must be smaller than the stride or the dilation")
            sizes.append((n - 1) * s - 2 * p + d * (k - 1) + extra + 1)
        if min(sizes) < 1:
            raise ShapeError(f"the padding leaves no output ({sizes[0]}x{sizes[1]})")
        return (attrs["out"], *sizes)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        # Every input element is multiplied into a kernel-sized patch of each output channel of its group.
        return prod(inputs[0]) * (attrs["out"] // attrs["groups"]) * prod(attrs["kernel"])

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        def rule(k: int, s: int, p: int, d: int) -> Reads:
            # Output o = i*s - p + t*d for input i and tap t: it reads every i that lands on it.
            return Reads(Fraction(1, s), lambda o: [(o + p - t * d) // s for t in range(k)
                                                    if (o + p - t * d) % s == 0])

        return axis_pair(rule(k, s, p, d) for k, s, p, d in
                         zip(attrs["kernel"], attrs["stride"], attrs["padding"], attrs["dilation"]))
