"""Element-wise activations. `inplace` is chosen by the compiler when it is safe."""

from __future__ import annotations

from typing import Any

from .base import Attr, CodeArgs, Shape, Weightless, call, prod, register


class _Activation(Weightless):
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
