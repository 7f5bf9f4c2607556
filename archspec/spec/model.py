"""The resolved spec: what a spec file means after `extends` and `import`, before elaboration.

Values here are still unevaluated (expressions stay strings); every one keeps
the span of the text it came from, so later stages can point back at it and
`archspec resolve --explain` can say where each value was set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import Span
from .values import Env
from .yaml_source import Map

# Keys an item may carry besides the attributes of its op or block.
ITEM_KEYS = ("name", "from", "if", "share", "doc")
CONTAINER_KEYS = ("body",)
REPEAT_KEYS = ("count", "as", "body")
GROUP_KEYS = ("class", "inputs", "outputs", "body", "init")
# Items that hold a body: a chain (nn.Sequential), a repetition, a named sub-network of its own class.
CONTAINERS = ("seq", "repeat", "group")


@dataclass
class Value:
    """A spec value and where it was written."""

    value: Any
    span: Span
    origin: str = ""  # "variant", "family", … for --explain


@dataclass
class Item:
    """One entry of a body: an op, a block instance, a `seq` or a `repeat`."""

    kind: str  # "op" | "block" | "seq" | "repeat"
    op: str  # op name, block name (or "$param" naming one), "seq" or "repeat"
    span: Span
    attrs: Map
    name: Any = None
    inputs: Any = None  # the raw `from`
    condition: Any = None  # the raw `if`
    share: str | None = None
    body: list["Item"] = field(default_factory=list)
    count: Any = None
    var: str = "i"
    init: "InitSpec | None" = None  # a group's own `init`, run at the end of its constructor


@dataclass
class BlockDef:
    """A user-defined composite block: parameters, a body and its outputs."""

    name: str
    span: Span
    file: str
    params: dict[str, "ParamDecl"]
    body: list[Item]
    class_name: str
    doc: str = ""
    inputs: list[str] = field(default_factory=lambda: ["input"])
    outputs: Any = None
    outputs_span: Span | None = None
    defaults: dict[str, dict[str, "Value"]] = field(default_factory=dict)  # of the file that defines it
    class_span: Span | None = None  # where `class` is written (or the block's name, when it is derived)
    init: "InitSpec | None" = None  # the block's own `init`, run at the end of its constructor


@dataclass
class ParamDecl:
    """A block parameter: its type and default (None when required)."""

    name: str
    type: str  # int | float | bool | str | list
    default: Any
    required: bool
    span: Span


@dataclass
class ResolvedSpec:
    path: str
    name: Value
    class_name: Value
    doc: str
    input: Value
    params: dict[str, Value]
    defaults: dict[str, dict[str, Value]]
    blocks: dict[str, BlockDef]
    body: list[Item]
    body_span: Span
    outputs: Value | None
    methods: Value | None  # extra methods of the network class: name -> {from, to}
    files: list[str]  # every file read, in order
    detect: Value | None = None  # the `detect:` section, read by archspec.detection
    init: "InitSpec | None" = None  # how the weights start (see `InitSpec`)
    transfer: "TransferSpec | None" = None  # fine-tuning from pretrained weights (see `TransferSpec`)

    def param_env(self) -> Env:
        """The parameters as an expression sees them, with where each was set (for hints)."""
        return Env({name: value.value for name, value in self.params.items()},
                   {name: value.span for name, value in self.params.items()})


# ---------------------------------------------------------------- training: `init` and `transfer`

# The initialisers a spec may name (torch.nn.init's, without the trailing underscore) and the keywords
# each takes. String keywords take only the listed choices, so nothing a spec writes reaches the
# emitted file unchecked.
INITIALIZERS: dict[str, tuple[str, ...]] = {
    "constant": ("val",),
    "zeros": (),
    "ones": (),
    "normal": ("mean", "std"),
    "uniform": ("a", "b"),
    "trunc_normal": ("mean", "std", "a", "b"),
    "kaiming_normal": ("a", "mode", "nonlinearity"),
    "kaiming_uniform": ("a", "mode", "nonlinearity"),
    "xavier_normal": ("gain",),
    "xavier_uniform": ("gain",),
    "orthogonal": ("gain",),
}
INIT_CHOICES: dict[str, tuple[str, ...]] = {
    "mode": ("fan_in", "fan_out"),
    "nonlinearity": ("linear", "conv2d", "conv_transpose2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"),
}
INIT_TENSORS = ("weight", "bias")
BN_MODES = ("train", "eval", "frozen")  # batch norm while fine-tuning: as usual, statistics fixed, all fixed


@dataclass
class InitCall:
    """One initialiser applied to one tensor: `kaiming_normal` with {mode: fan_out}, or `constant` 0."""

    function: str
    args: dict[str, Any]
    span: Span


@dataclass
class InitRule:
    """How the tensors of an op kind (`conv`), or of one named part (`bottleneck.bn3`, `fc`), start."""

    target: str
    span: Span
    tensors: dict[str, InitCall]
    condition: Any = None  # the raw `if`, an expression over the spec's parameters
    condition_span: Span | None = None


@dataclass
class DroppedLayer:
    """A layer the published code builds and initialises, then throws away (the classifier head of a
    backbone): `{linear: {in: 2048, out: 1000}}`. Its attributes are raw, expressions over the parameters."""

    op: str
    attrs: Map
    span: Span


@dataclass
class InitSpec:
    """An `init`: rules per op kind, applied in one pass over the modules, then per named part; `dropped`
    layers are built after the part's own and take part in that pass. `order` states a construction order
    other than the layers' (each step builds its parts and initialises them with its own rules)."""

    ops: list[InitRule]
    parts: list[InitRule]
    span: Span
    dropped: list[DroppedLayer] = field(default_factory=list)
    order: list["BuildStep"] = field(default_factory=list)


@dataclass
class BuildStep:
    """One step of `init: order`: the parts it builds (`extra.0.7`, a member of a direct part, may be
    built apart from it), then the rules of kinds and the dropped layers of its own `init`."""

    build: list[Value]
    init: InitSpec
    span: Span


@dataclass
class TransferSpec:
    """The spec's `transfer`: where the weights come from, what is replaced, frozen, and learnt slower."""

    span: Span
    pretrained: Value | None = None  # a path, relative to the spec file
    replace: list[Value] = field(default_factory=list)  # parts whose weights are new (a changed head)
    freeze: list[Value] = field(default_factory=list)
    bn: Value | None = None  # one of BN_MODES
    lr_mult: list[tuple[Value, Value]] = field(default_factory=list)  # (part, multiplier)
