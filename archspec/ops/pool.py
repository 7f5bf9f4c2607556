"""Pooling."""

from __future__ import annotations

from typing import Any

from .base import (AUTO, Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, axis_pair, call, pair_keyword,
                   pair_source, prod, register, require_rank, size_text, stride_text, whole_axis, window, window_out)


class _Pool(Weightless):
    output_for_backward = False  # the backward pass needs the input (or the indices)
    category = "pool"
    torch_class = ""

    def resolve_auto(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("stride") is AUTO:
            attrs["stride"] = attrs["kernel"]  # PyTorch's default: stride = kernel
        return attrs

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, h, w = require_rank(inputs, 3, self.name)
        for k, p in zip(attrs["kernel"], attrs["padding"]):
            if 2 * p > k:
                raise ShapeError(f"padding {p} is more than half the kernel {k}",
                                 hint="PyTorch allows at most kernel // 2 padding in pooling")
        dilation = attrs.get("dilation", (1, 1))
        if attrs.get("exact"):
            for n, k, s, p, d in zip((h, w), attrs["kernel"], attrs["stride"], attrs["padding"], dilation):
                if (n + 2 * p - d * (k - 1) - 1) % s:
                    raise ShapeError(f"would drop the last {(n + 2 * p - d * (k - 1) - 1) % s} row(s) or column(s) "
                                     f"of its {h}x{w} input ('exact: true' asks for windows that tile it)",
                                     hint="choose an input size that every pooling divides evenly")
        sizes = tuple(window_out(n, k, s, p, d, attrs["ceil_mode"]) for n, k, s, p, d in
                      zip((h, w), attrs["kernel"], attrs["stride"], attrs["padding"], dilation))
        if min(sizes) < 1:
            raise ShapeError(f"the {attrs['kernel'][0]}x{attrs['kernel'][1]} window does not fit the "
                             f"{h}x{w} input", hint="use a larger input or fewer downsampling steps")
        return (c, *sizes)

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output) * prod(attrs["kernel"])  # one comparison or addition per window element

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        dilation = attrs.get("dilation", (1, 1))
        return axis_pair(window(k, s, p, d) for k, s, p, d in
                         zip(attrs["kernel"], attrs["stride"], attrs["padding"], dilation))

    def label(self, attrs: dict[str, Any]) -> str:
        return f"{self.name} {size_text(attrs['kernel'])}{stride_text(attrs['stride'])}"

    def _keywords(self, args: CodeArgs) -> list[str]:
        keywords = [f"kernel_size={pair_source(args, 'kernel')}"]
        if not (args.values.get("stride") == args.values.get("kernel") and "stride" in args.values):
            keywords.append(f"stride={pair_source(args, 'stride')}")
        keywords += pair_keyword(args, "padding", "padding", 0)
        return keywords


@register
class MaxPool(_Pool):
    name = "maxpool"
    summary = "2-D max pooling (nn.MaxPool2d)"
    attrs = {
        "kernel": Attr("pair", minimum=1),
        "stride": Attr("pair", AUTO, minimum=1, doc="defaults to the kernel size"),
        "padding": Attr("pair", 0, minimum=0),
        "dilation": Attr("pair", 1, minimum=1),
        "ceil_mode": Attr("bool", False),
        "indices": Attr("bool", False, doc="also return where each maximum was, for a maxunpool"),
        "exact": Attr("bool", False, doc="refuse an input that the windows do not tile exactly"),
    }

    def emit(self, args: CodeArgs) -> str:
        keywords = self._keywords(args) + pair_keyword(args, "dilation", "dilation", 1)
        keywords += args.keyword("ceil_mode", "ceil_mode", False)
        keywords += args.keyword("indices", "return_indices", False)
        return call("nn.MaxPool2d", [], keywords)


@register
class AvgPool(_Pool):
    name = "avgpool"
    summary = "2-D average pooling (nn.AvgPool2d)"
    attrs = {
        "kernel": Attr("pair", minimum=1),
        "stride": Attr("pair", AUTO, minimum=1, doc="defaults to the kernel size"),
        "padding": Attr("pair", 0, minimum=0),
        "ceil_mode": Attr("bool", False),
        "count_include_pad": Attr("bool", True),
        "exact": Attr("bool", False, doc="refuse an input that the windows do not tile exactly"),
    }

    def emit(self, args: CodeArgs) -> str:
        keywords = self._keywords(args) + args.keyword("ceil_mode", "ceil_mode", False)
        keywords += args.keyword("count_include_pad", "count_include_pad", True)
        return call("nn.AvgPool2d", [], keywords)


class _AdaptivePool(Weightless):
    output_for_backward = False  # the backward pass needs the input
    category = "pool"
    whole_input = True
    torch_class = ""
    attrs = {"size": Attr("pair", minimum=1, doc="output size, an int or [h, w]")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        c, _, _ = require_rank(inputs, 3, self.name)
        return (c, *attrs["size"])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(inputs[0])  # every input element is read into one window (overlaps aside)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        return axis_pair(whole_axis(n, count) for n, count in zip(inputs[0][1:], attrs["size"]))

    def label(self, attrs: dict[str, Any]) -> str:
        return f"{self.name} to {size_text(attrs['size'])}"

    def emit(self, args: CodeArgs) -> str:
        value = args.values.get("size")
        size = repr(value) if isinstance(value, tuple) else args.src("size")
        return call(self.torch_class, [size], [])


@register
class AdaptiveAvgPool(_AdaptivePool):
    name = "adaptive_avgpool"
    torch_class = "nn.AdaptiveAvgPool2d"
    summary = "average pooling to a fixed output size (nn.AdaptiveAvgPool2d)"


@register
class AdaptiveMaxPool(_AdaptivePool):
    name = "adaptive_maxpool"
    torch_class = "nn.AdaptiveMaxPool2d"
    summary = "max pooling to a fixed output size (nn.AdaptiveMaxPool2d)"
