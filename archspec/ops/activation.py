"""Element-wise activations. `inplace` is chosen by the compiler when it is safe."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Shape, Weightless, call, prod, register


class _Activation(Weightless):
    output_for_backward = True  # ReLU, sigmoid and tanh compute their gradient from the output
    category = "activation"
    torch_class = ""
    cost = 1  # documented element-wise cost per output element

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return self.cost * prod(output)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def emit(self, args: CodeArgs) -> str:
        keywords = [f"inplace={args.src('inplace')}"] if args.is_value("inplace", True) else []
        return call(self.torch_class, [], keywords)


_INPLACE = Attr("bool", False, doc="overwrite the input; archspec sets it where no other consumer reads the input")


@register
class ReLU(_Activation):
    name = "relu"
    torch_class = "nn.ReLU"
    summary = "rectified linear unit"
    attrs = {"inplace": _INPLACE}


@register
class ReLU6(_Activation):
    name = "relu6"
    torch_class = "nn.ReLU6"
    summary = "ReLU clipped at 6"
    attrs = {"inplace": _INPLACE}


@register
class LeakyReLU(_Activation):
    name = "leaky_relu"
    torch_class = "nn.LeakyReLU"
    summary = "leaky ReLU"
    attrs = {"slope": Attr("float", 0.01), "inplace": _INPLACE}

    def label(self, attrs: dict[str, Any]) -> str:
        return f"leaky_relu {attrs['slope']:g}"

    def emit(self, args: CodeArgs) -> str:
        keywords = args.keyword("slope", "negative_slope", 0.01)
        keywords += [f"inplace={args.src('inplace')}"] if args.is_value("inplace", True) else []
        return call("nn.LeakyReLU", [], keywords)


@register
class Sigmoid(_Activation):
    name = "sigmoid"
    torch_class = "nn.Sigmoid"
    summary = "logistic sigmoid"
    cost = 4  # exp, add, divide, negate
    attrs = {}


@register
class Tanh(_Activation):
    name = "tanh"
    torch_class = "nn.Tanh"
    summary = "hyperbolic tangent"
    cost = 4
    attrs = {}


@register
class SiLU(_Activation):
    name = "silu"
    torch_class = "nn.SiLU"
    summary = "sigmoid-weighted linear unit, x * sigmoid(x), also called swish (nn.SiLU)"
    cost = 5  # sigmoid's 4 and a multiplication
    attrs = {"inplace": _INPLACE}


@register
class HardSigmoid(_Activation):
    name = "hardsigmoid"
    torch_class = "nn.Hardsigmoid"
    summary = "piecewise-linear sigmoid, relu6(x + 3) / 6 (nn.Hardsigmoid)"
    cost = 3  # an addition, a clamp and a division
    attrs = {"inplace": _INPLACE}


@register
class HardSwish(_Activation):
    name = "hardswish"
    torch_class = "nn.Hardswish"
    summary = "x * hardsigmoid(x), MobileNetV3's activation (nn.Hardswish)"
    cost = 4  # hardsigmoid's 3 and a multiplication
    attrs = {"inplace": _INPLACE}


@register
class Mish(_Activation):
    name = "mish"
    torch_class = "nn.Mish"
    summary = "x * tanh(softplus(x)) (nn.Mish)"
    cost = 8  # softplus's exponential, addition and logarithm, tanh's 4, a multiplication
    attrs = {"inplace": _INPLACE}


@register
class GELU(_Activation):
    name = "gelu"
    torch_class = "nn.GELU"
    summary = "Gaussian error linear unit, x * Φ(x) (nn.GELU)"
    attrs = {"approximate": Attr("choice", "none", choices=("none", "tanh"),
                                 doc="'tanh': the tanh approximation of Φ")}

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        # erf form: a division, erf (one op, as exp is in sigmoid's 4), an addition and two multiplications;
        # tanh form: x³ (2), four multiplications, two additions and tanh's 4.
        return (5 if attrs["approximate"] == "none" else 12) * prod(output)

    def label(self, attrs: dict[str, Any]) -> str:
        return "gelu" if attrs["approximate"] == "none" else "gelu tanh"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.GELU", [], args.keyword("approximate", "approximate", "none"))


@register
class Softmax(_Activation):
    name = "softmax"
    torch_class = "nn.Softmax"
    summary = "softmax over the channels of a map, or the features of a vector (nn.Softmax(dim=1))"
    cost = 3  # an exponential, an addition into the sum and a division
    attrs = {}

    def emit(self, args: CodeArgs) -> str:
        return "nn.Softmax(dim=1)"
