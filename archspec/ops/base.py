"""The op registry: one class per operation holds everything archspec knows about it.

Each op declares its attributes (with types and defaults) and implements every
rule: shape inference, parameter and cost counting, receptive-field geometry
and PyTorch code generation. `register` refuses a class that leaves a rule out,
so a forgotten rule fails at import, not as a silent zero in a report.

Shapes exclude the batch dimension: ``(C, H, W)`` for feature maps, ``(F,)``
for vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, ClassVar, Iterable

Shape = tuple[int, ...]

REQUIRED = object()
AUTO = object()  # a default that depends on other attributes or on the input


class ShapeError(Exception):
    """An op cannot accept its inputs. The pass that catches it adds the location and the op's name, so
    the message starts with a verb: "expects 64 input channels, got 32"."""

    def __init__(self, message: str, hint: str | None = None, rank: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.rank = rank  # the rank the op needs, when that is the problem (see `require_rank`)

    def about(self, op: str, path: str) -> str:
        """The message with the layer it is about: "conv 'layer1.0.conv1': expects 64 input channels, got 32"."""
        return f"{op} '{path}': {self.message}"


@dataclass(frozen=True)
class Attr:
    """One attribute of an op.

    kind: ``int`` | ``pair`` (an int or [h, w]) | ``float`` | ``bool`` | ``choice``.
    inferred: filled from the input shapes when the spec leaves it out
    (``in`` channels of a conv); given explicitly, it is checked instead.
    """

    kind: str
    default: Any = REQUIRED
    minimum: int | float | None = None
    maximum: int | float | None = None
    above: int | float | None = None  # an exclusive minimum (PyTorch's batch norm takes only eps > 0)
    inferred: bool = False
    channels: bool = False  # an inferred channel count (of the input), tracked through blocks by codegen
    choices: tuple[str, ...] = ()
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Reads:
    """Which input units one output unit reads, along one axis: the receptive-field rule of an op.

    `ratio` is the distance, in input units, between neighbouring output units
    (a stride; below one when upsampling), and `units(o)` the input units that
    output unit `o` reads. `units(o + q)` must equal `units(o)` shifted by
    `q * ratio`, where `q` is the denominator of `ratio`.
    """

    ratio: Fraction
    units: Callable[[int], Iterable[int]]


def window(kernel: int, stride: int, padding: int, dilation: int = 1) -> Reads:
    """A sliding window (convolution, pooling): unit o reads o*s - p, …, o*s - p + d*(k - 1)."""
    return Reads(Fraction(stride), lambda o: range(o * stride - padding,
                                                   o * stride - padding + dilation * (kernel - 1) + 1, dilation))


def axis_pair(reads: Iterable[Reads]) -> tuple[Reads, Reads]:
    """The (height, width) rules built from an op's pair attributes: exactly two, one per spatial axis."""
    height, width = reads
    return height, width


def whole_axis(size: int, count: int) -> Reads:
    """Adaptive pooling of `size` units to `count` (PyTorch's windows: floor(o*n/c) to ceil((o+1)*n/c))."""
    return Reads(Fraction(size, count), lambda o: range(o * size // count, -(-(o + 1) * size // count)))


class CodeArgs:
    """Attribute values for code generation: concrete values or Python source of an expression."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]):
        self.values = values  # concrete values, where known
        self.sources = sources  # python source for every attribute

    def src(self, name: str) -> str:
        return self.sources[name]

    def is_value(self, name: str, value: Any) -> bool:
        return name in self.values and _same(self.values[name], value)

    def keyword(self, name: str, torch_name: str, torch_default: Any) -> list[str]:
        """`torch_name=value`, or nothing when the value is torch's default."""
        if self.is_value(name, torch_default):
            return []
        return [f"{torch_name}={self.src(name)}"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and not isinstance(b, tuple):
        return all(x == b for x in a) and type(b) is not bool
    return a == b and type(a) is type(b)


class Op:
    """Base of all ops. Subclasses set the class attributes and implement the rules."""

    name: ClassVar[str]
    attrs: ClassVar[dict[str, Attr]] = {}
    # Number of inputs: an int, or (minimum, maximum) with None for "no maximum".
    arity: ClassVar[int | tuple[int, int | None]] = 1
    # The output sees the whole input (flatten, adaptive pooling): no longer a feature map whose
    # receptive field is worth reporting.
    whole_input: ClassVar[bool] = False
    # Position of the input whose max-pool indices the op reads (unpooling), if any.
    reads_indices: ClassVar[int | None] = None
    # A module-level function or class the emitted file must define when the op is used: (name, source).
    helper: ClassVar[tuple[str, str] | None] = None
    # Emitted as an nn.Module attribute (True) or as a call in forward (False).
    module: ClassVar[bool] = True
    # How forward applies an attribute that is not a module but a bare nn.Parameter (torchvision's
    # `self.layer_scale * x`): a template with {attribute} and {0}; None for a module, called as one.
    applies: ClassVar[str | None] = None
    # The module that stands for an op computed in forward (`module` False) where only a module can go, a
    # member of nn.Sequential: flatten's "nn.Flatten()"; None for an op that has none.
    sequence_form: ClassVar[str | None] = None
    # How output channels follow from the op: "same" as the first input, "out" (the `out` attribute),
    # "sum" of the inputs' (concatenation), or "none" (the output has no channel axis).
    channels: ClassVar[str] = "same"
    # Whether autograd keeps this op's output for the backward pass (a ReLU's or a sigmoid's is kept, a
    # conv's or a batch norm's is not): an in-place activation may overwrite only an output that is not
    # kept. Every op declares it; `register` refuses one that does not.
    output_for_backward: ClassVar[bool | None] = None
    # Whether forward may write it as an augmented assignment that overwrites its first input (`out +=
    # identity`, as torchvision's residual blocks do): only for an op whose backward needs none of its
    # inputs. `ir/inplace.py` decides for each layer whether that input may be overwritten.
    in_place: ClassVar[bool] = False
    # What kind of op it is (conv, norm, activation, pool, …): diagrams colour by it and fold followers
    # (norm, activation) into the layer before. A short
    # description for docs and renderers. ("groups" is a convolution's attribute, "group" a spec construct.)
    category: ClassVar[str] = "other"
    summary: ClassVar[str] = ""

    RULES: ClassVar[tuple[str, ...]] = ("infer", "params", "macs", "other_ops", "rf", "emit")

    # --- how a diagram names one layer (default: the op's name)
    def label(self, attrs: dict[str, Any]) -> str:
        """The op and the attributes that define it, as a diagram box shows them: "conv 3×3, 64, /2"."""
        return self.name

    # --- attributes that depend on the input (default: none)
    def complete(self, attrs: dict[str, Any], inputs: list[Shape]) -> dict[str, Any]:
        """Fill `inferred` attributes that the spec left out, from the input shapes."""
        return attrs

    def resolve_auto(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Replace AUTO defaults that depend on other attributes (a pool's stride = its kernel)."""
        return attrs

    def link(self, attrs: dict[str, Any], producer: Any) -> None:
        """Check (and complete from) the node that produced the input at `reads_indices`."""

    def sees_whole_input(self, attrs: dict[str, Any]) -> bool:
        """Whether each output unit sees the whole input (`whole_input`), for this use of the op."""
        return self.whole_input

    def needs_helper(self, attrs: dict[str, Any]) -> bool:
        """Whether this use of the op needs its `helper` in the emitted file (default: every use)."""
        return self.helper is not None

    def output_names(self, attrs: dict[str, Any]) -> list[str] | None:
        """The keys of an op's several outputs ("0", "1" … for a split); None for an op with one."""
        return None

    def piece_channels(self, attrs: dict[str, Any]) -> list[str]:
        """The channels of each of several outputs, as expressions over `in_channels` and the attributes (as
        `channels` is for one output), for block classes; `attrs` holds the attributes whose value is known."""
        return []

    def pieces(self, attrs: dict[str, Any], output: Shape) -> list[Shape] | None:
        """The shapes of the tensors an op with several outputs returns (a split), read as `name.0`,
        `name.1` …; `infer` then gives the shape of them all together. None: one output."""
        return None

    # --- rules every op implements
    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        raise NotImplementedError

    def params(self, attrs: dict[str, Any]) -> int:
        raise NotImplementedError

    def buffers(self, attrs: dict[str, Any]) -> int:
        return 0

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        raise NotImplementedError

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        raise NotImplementedError

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads] | str:
        """Receptive-field rule: Reads per spatial axis (height, width), or 'pointwise' (each output
        unit reads the same unit of its input, e.g. activations, or any op on vectors) or 'merge'
        (the union of the inputs' fields, unit by unit)."""
        raise NotImplementedError

    def emit(self, args: CodeArgs) -> str:
        """Python source constructing the module (module ops) or a template with {0}, {1} for inputs."""
        raise NotImplementedError

    def emit_in_place(self, args: CodeArgs) -> str:
        """For an op with `in_place`: the statement overwriting input {0} with the result (`{0} += {1}`)."""
        raise NotImplementedError


class Weightless(Op):
    """An op with no weights and no multiply-accumulates (pooling, merges, resampling, activations):
    what remains to say is its element-wise cost. Uses of one configuration may share one module."""

    def params(self, attrs: dict[str, Any]) -> int:
        return 0

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        return 0


OPS: dict[str, Op] = {}


def register(cls: type[Op]) -> type[Op]:
    """Add an op class to the registry, refusing one that leaves a rule out."""
    missing = [rule for rule in Op.RULES if getattr(cls, rule) is getattr(Op, rule)]
    if missing:
        raise TypeError(f"op {cls.__name__} does not define {', '.join(missing)}")
    if cls.output_for_backward is None:
        raise TypeError(f"op {cls.__name__} does not say whether autograd keeps its output "
                        "(set output_for_backward)")
    if cls.in_place and cls.emit_in_place is Op.emit_in_place:
        raise TypeError(f"op {cls.__name__} may be written in place but does not define emit_in_place")
    if cls.name in OPS:
        raise TypeError(f"op '{cls.name}' is registered twice")
    if "group" in vars(cls):
        raise TypeError(f"op {cls.__name__} sets 'group', which is now called 'category'")
    if cls.module and cls.sequence_form is not None:
        raise TypeError(f"op {cls.__name__} is a module: it needs no 'sequence_form'")
    OPS[cls.name] = cls()
    return cls


# ---------------------------------------------------------------- helpers shared by op rules


def prod(values: Shape) -> int:
    return math.prod(values)


def require_rank(inputs: list[Shape], rank: int, what: str = "") -> Shape:
    """The first input's shape, if it has `rank` dimensions (3: a feature map, 1: a vector).

    `what` (the op's name) is not repeated in the message: the pass that reports it names the op.
    """
    shape = inputs[0]
    if len(shape) != rank:
        if rank == 3:
            raise ShapeError(f"expects a feature map (C, H, W), got a tensor of shape {fmt_shape(shape)}",
                             hint="it cannot follow 'flatten' or 'linear'", rank=rank)
        raise ShapeError(f"expects a vector of features, got shape {fmt_shape(shape)}",
                         hint="add a 'flatten' (after an adaptive pool) before it", rank=rank)
    return shape


def window_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, as PyTorch computes it (`pooling_output_shape`): floor division
    even of a negative span, so with `ceil` a window larger than the input still gives one output, as
    `MaxPool2d(3, 2, ceil_mode=True)` gives 1x1 on a 2x2 input. 0 or less: the window does not fit."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil else 0)) // stride + 1
    # PyTorch drops a last window that would start in the right padding.
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1
    return max(out, 0)


def size_text(value: Any) -> str:
    """A pair as diagrams write it: 3×3, or 1×7."""
    return "×".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def stride_text(value: Any, marker: str = "/") -> str:
    """", /2" for a stride of 2 (or ", ×2" for an upsampling factor); nothing for 1."""
    values = set(value) if isinstance(value, tuple) else {value}
    if values == {1}:
        return ""
    return f", {marker}{values.pop() if len(values) == 1 else size_text(value)}"


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def pair_source(args: CodeArgs, name: str) -> str:
    """A pair attribute as torchvision writes it: `3` when square, `(3, 5)` otherwise."""
    value = args.values.get(name)
    if isinstance(value, tuple) and len(set(value)) == 1:
        return repr(value[0])
    return args.src(name)


def pair_keyword(args: CodeArgs, name: str, torch_name: str, torch_default: int) -> list[str]:
    if args.is_value(name, (torch_default, torch_default)):
        return []
    return [f"{torch_name}={pair_source(args, name)}"]


def call(function: str, positional: list[str], keywords: list[str]) -> str:
    return f"{function}({', '.join(positional + keywords)})"


Checker = Callable[[dict[str, Any]], None]
