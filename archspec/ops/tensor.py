"""Ops that reshape or pass tensors through: flatten, dropout, stochastic depth, identity."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .base import (Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, axis_pair, call, prod, register, require_rank,
                   size_text, whole_axis)


class _Passthrough(Weightless):
    output_for_backward = True  # a view of its input, or its input itself
    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0


@register
class Flatten(_Passthrough):
    name = "flatten"
    channels = "none"
    whole_input = True
    category = "reshape"
    summary = "flatten all but the batch dimension into a vector"
    module = False
    sequence_form = "nn.Flatten()"
    attrs = {}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return (prod(inputs[0]),)

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads] | str:
        if len(inputs[0]) != 3:
            return "pointwise"
        return whole_axis(inputs[0][1], 1), whole_axis(inputs[0][2], 1)

    def emit(self, args: CodeArgs) -> str:
        return "torch.flatten({0}, 1)"


@register
class Dropout(_Passthrough):
    name = "dropout"
    category = "regularise"
    summary = "dropout (identity in eval mode)"
    attrs = {"p": Attr("float", 0.5, minimum=0, maximum=1, doc="probability of zeroing an element"),
             "inplace": Attr("bool", False)}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"dropout {attrs['p']:g}"

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Dropout", [], args.keyword("p", "p", 0.5) + args.keyword("inplace", "inplace", False))


STOCHASTIC_DEPTH = '''@torch.fx.wrap  # its branches on the tensor's rank stay out of a traced graph
def stochastic_depth(x: Tensor, p: float, mode: str, training: bool) -> Tensor:
    """Zero the whole of x per sample ("row") or for the batch ("batch") with probability p,
    scaling what survives by 1 / (1 - p); x itself in eval (torchvision.ops.stochastic_depth)."""
    if not training or p == 0.0:
        return x
    survival_rate = 1.0 - p
    size = [x.shape[0]] + [1] * (x.dim() - 1) if mode == "row" else [1] * x.dim()
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return x * noise


class StochasticDepth(nn.Module):
    """Randomly drops a residual branch in training (Huang et al., 2016): stochastic_depth."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: Tensor) -> Tensor:
        return stochastic_depth(x, self.p, self.mode, self.training)'''


@register
class StochasticDepth(_Passthrough):
    name = "stochastic_depth"
    category = "regularise"
    summary = "drops a residual branch at random while training, per sample or per batch; identity in eval " \
              "(torchvision's StochasticDepth)"
    helper = ("StochasticDepth", STOCHASTIC_DEPTH)
    attrs = {"p": Attr("float", minimum=0, maximum=1, doc="probability of dropping the branch"),
             "mode": Attr("choice", "row", choices=("row", "batch"),
                          doc="'row': each sample on its own; 'batch': the whole batch at once")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def label(self, attrs: dict[str, Any]) -> str:
        return f"stochastic_depth {attrs['p']:g}"

    def emit(self, args: CodeArgs) -> str:
        return call("StochasticDepth", [args.src("p"), args.src("mode")], [])


@register
class Identity(_Passthrough):
    name = "identity"
    category = "reshape"
    summary = "passes its input through (nn.Identity)"
    attrs = {}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        return inputs[0]

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> str:
        return "pointwise"

    def emit(self, args: CodeArgs) -> str:
        return "nn.Identity()"


@register
class Unflatten(_Passthrough):
    name = "unflatten"
    category = "reshape"
    channels = "none"  # set by its `shape`, which code generation reads from the instances
    summary = "turns a vector of features back into a feature map (nn.Unflatten)"
    attrs = {"shape": Attr("shape", minimum=1, doc="the feature map's [channels, height, width]")}

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        (features,) = require_rank(inputs, 1, "unflatten")
        if prod(attrs["shape"]) != features:
            raise ShapeError(f"cannot arrange {features} features as {'x'.join(map(str, attrs['shape']))}",
                             hint=f"the shape's product must be {features}")
        return tuple(attrs["shape"])

    def label(self, attrs: dict[str, Any]) -> str:
        return f"unflatten to {size_text(tuple(attrs['shape']))}"

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads]:
        # Every unit of the map reads the one "unit" a vector is: all of them see what it saw (jump 0).
        return axis_pair(Reads(Fraction(0), lambda o: (0,)) for _ in range(2))

    def emit(self, args: CodeArgs) -> str:
        return call("nn.Unflatten", ["1", args.src("shape")], [])
