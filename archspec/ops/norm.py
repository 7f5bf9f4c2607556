"""Normalisation over channels, and learnable per-channel scales."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Op, Shape, ShapeError, call, prod, register, require_rank


@register
class BatchNorm(Op):
    output_for_backward = False  # the backward pass uses the input and saved statistics
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


def _channels_of_map(attrs: dict[str, Any], inputs: list[Shape], axis: int = 0) -> dict[str, Any]:
    """Fill `features` from the channel axis of a feature map (the last axis of a channels-last one)."""
    if "features" not in attrs:
        attrs["features"] = require_rank(inputs, 3)[axis]
    return attrs


def _check_features(attrs: dict[str, Any], inputs: list[Shape], axis: int = 0) -> Shape:
    shape = require_rank(inputs, 3)
    if shape[axis] != attrs["features"]:
        raise ShapeError(f"expects {attrs['features']} channels, got {shape[axis]}")
    return shape


_FEATURES = Attr("int", minimum=1, inferred=True, channels=True, doc="channels; inferred from the input")


class _PerChannel(Op):
    """An op with a value per channel of a channels-first map (no multiply-accumulates, pointwise)."""

    category = "norm"

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        return _channels_of_map(attrs, inputs)

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return _check_features(attrs, inputs)

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"


FROZEN_BATCH_NORM = '''class FrozenBatchNorm2d(nn.Module):
    """Batch norm whose statistics and affine parameters are fixed buffers (torchvision.ops)."""

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # A BatchNorm2d's state_dict loads as it is: the counter it keeps has no use here.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def forward(self, x: Tensor) -> Tensor:
        variance = self.running_var.reshape(1, -1, 1, 1)
        scale = self.weight.reshape(1, -1, 1, 1) * (variance + self.eps).rsqrt()
        shift = self.bias.reshape(1, -1, 1, 1) - self.running_mean.reshape(1, -1, 1, 1) * scale
        return x * scale + shift'''


@register
class FrozenBatchNorm(_PerChannel):
    name = "frozen_bn"
    summary = "batch norm with fixed statistics and affine parameters, all buffers (FrozenBatchNorm2d, as " \
              "torchvision's detection backbones use)"
    helper = ("FrozenBatchNorm2d", FROZEN_BATCH_NORM)
    output_for_backward = False  # x * scale + shift: the backward pass needs neither the output nor the input
    attrs = {"eps": Attr("float", 1e-5), "features": _FEATURES}

    def params(self, attrs: dict[str, Any]) -> int:
        return 0

    def buffers(self, attrs: dict[str, Any]) -> int:
        return 4 * attrs["features"]  # weight, bias, running mean and variance

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 2 * prod(output)  # a scale and a shift per element, as batch norm's inference form

    def emit(self, args: CodeArgs) -> str:
        return call("FrozenBatchNorm2d", [args.src("features")], args.keyword("eps", "eps", 1e-5))


LAYER_NORM_2D = '''class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of a channels-first map (torchvision's, as ConvNeXt has it)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)'''


@register
class LayerNorm(Op):
    name = "layer_norm"
    category = "norm"
    summary = "layer normalisation over the channels of each pixel (LayerNorm2d; nn.LayerNorm on a " \
              "channels-last map)"
    helper = ("LayerNorm2d", LAYER_NORM_2D)
    output_for_backward = False  # the backward pass uses the input and the saved statistics
    attrs = {
        "eps": Attr("float", 1e-5),
        "affine": Attr("bool", True, doc="a learned scale and shift per channel"),
        "channels_last": Attr("bool", False, doc="the input is a channels-last map (H, W, C), after a permute"),
        "features": _FEATURES,
    }

    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        self._require_map(inputs)
        return _channels_of_map(attrs, inputs, self._axis(attrs))

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        self._require_map(inputs)
        return _check_features(attrs, inputs, self._axis(attrs))

    @staticmethod
    def _require_map(inputs: list[Shape]) -> None:
        if len(inputs[0]) != 3:
            what = "vector" if len(inputs[0]) == 1 else "tensor"
            raise ShapeError(f"normalises the channels of a feature map, got a {what} of shape "
                             f"{'x'.join(map(str, inputs[0]))}",
                             hint="layer_norm takes a map (C, H, W), or (H, W, C) with 'channels_last: true'; "
                                  "place it before 'flatten'", rank=3)

    @staticmethod
    def _axis(attrs: dict[str, Any]) -> int:
        return 2 if attrs["channels_last"] else 0

    def needs_helper(self, attrs: dict[str, Any]) -> bool:
        return not attrs.get("channels_last")

    def params(self, attrs: dict[str, Any]) -> int:
        return 2 * attrs["features"] if attrs["affine"] else 0

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        # Per element: one addition into the mean, a squared difference and an addition into the variance,
        # a subtraction and a division; with the affine, a multiplication and an addition more.
        return (7 if attrs["affine"] else 5) * prod(output)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return "layer_norm" + (" (channels last)" if attrs["channels_last"] else "")

    def emit(self, args: CodeArgs) -> str:
        keywords = args.keyword("eps", "eps", 1e-5) + args.keyword("affine", "elementwise_affine", True)
        torch_class = "nn.LayerNorm" if args.is_value("channels_last", True) else "LayerNorm2d"
        return call(torch_class, [args.src("features")], keywords)


def _float_source(args: CodeArgs, name: str) -> str:
    """A float attribute as code that makes a float tensor: `init: 20` in YAML is an int, and
    torch.full((512,), 20) an integer tensor, which cannot be a parameter."""
    value = args.values.get(name)
    return repr(float(value)) if isinstance(value, (int, float)) else f"float({args.src(name)})"


class _ChannelParameter(_PerChannel):
    """A learned value per channel held as a bare nn.Parameter, as torchvision holds ConvNeXt's layer scale
    and SSD's L2-norm scale: the layer's name is the state_dict key itself."""

    output_for_backward = False  # a product with the parameter: the backward pass needs its factors
    attrs = {"init": Attr("float", 1.0, doc="the value every channel starts at"), "features": _FEATURES}

    def params(self, attrs: dict[str, Any]) -> int:
        return attrs["features"]


@register
class Scale(_ChannelParameter):
    name = "scale"
    summary = "a learned scale per channel, a [C, 1, 1] parameter (ConvNeXt's layer scale)"
    applies = "self.{attribute} * {0}"

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return prod(output)  # one multiplication per element

    def label(self, attrs: dict[str, Any]) -> str:
        return f"scale {attrs['init']:g}"

    def emit(self, args: CodeArgs) -> str:
        return f"nn.Parameter(torch.full(({args.src('features')}, 1, 1), {_float_source(args, 'init')}))"


@register
class L2Norm(_ChannelParameter):
    name = "l2norm"
    summary = "each pixel's channel vector scaled to unit length, then by a learned scale per channel (SSD's " \
              "conv4_3 normalisation)"
    applies = "self.{attribute}.view(1, -1, 1, 1) * nn.functional.normalize({0})"
    attrs = {**_ChannelParameter.attrs, "init": Attr("float", 20.0, doc="the value every channel's scale starts at")}

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        # Per element a square, an addition into the norm, a division and the scale's multiplication;
        # per pixel a square root.
        return 4 * prod(output) + prod(output[1:])

    def label(self, attrs: dict[str, Any]) -> str:
        return f"l2norm, scale {attrs['init']:g}"

    def emit(self, args: CodeArgs) -> str:
        return f"nn.Parameter(torch.full(({args.src('features')},), {_float_source(args, 'init')}))"
