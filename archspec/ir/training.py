"""The spec's `init` and `transfer`, checked against the network they apply to.

An `init` belongs to the spec (the network's constructor), to a group or to a block definition (the
constructor of its class): torchvision's components initialise themselves when they are built, so the
random draws of a detector's backbone come before its heads are even built. Every part a rule names
must exist (a misspelt `layer5` in `freeze` is a located error at validation time, not a silent no-op),
and conditions over the spec's parameters are decided here, so the backend only writes what applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from ..errors import Diagnostics, Span, SpecError, did_you_mean
from ..ops import OPS
from ..spec.model import BuildStep as SpecStep
from ..spec.model import DroppedLayer, InitCall, InitRule, InitSpec, Item, ResolvedSpec, Value
from ..spec.values import typed_value
from ..spec.yaml_source import Map
from .graph import Module, Network, Node


@dataclass
class OpInit:
    """Every module of op kind `op` (a conv, a bn) starts with these tensors."""

    op: str
    tensors: dict[str, InitCall]


@dataclass
class PartInit:
    """One named part starts with these tensors: in every instance of `block`, or in the network."""

    block: str | None  # the block definition's name; None for a path in the network
    path: str
    tensors: dict[str, InitCall]


@dataclass
class DroppedInit:
    """A layer built, initialised and thrown away, so that the draws of the layers kept come out as published."""

    op: str
    attrs: dict[str, Any]  # every attribute's value


@dataclass
class BuildStep:
    """One step of a construction order: the parts it builds, in turn (direct parts of the class, or a
    numbered member `extra.0.7` of one built earlier), then how it initialises them."""

    parts: list[str]
    init: "InitPlan"


@dataclass
class InitPlan:
    ops: list[OpInit] = field(default_factory=list)
    parts: list[PartInit] = field(default_factory=list)
    dropped: list[DroppedInit] = field(default_factory=list)
    order: list[BuildStep] = field(default_factory=list)  # empty: the parts are built in the layer order


@dataclass
class TransferPlan:
    pretrained: str | None = None  # the weights file the spec names, relative to where archspec runs
    replace: list[str] = field(default_factory=list)
    freeze: list[str] = field(default_factory=list)
    bn: str = "train"
    lr_mult: dict[str, float] = field(default_factory=dict)


def lower_training(spec: ResolvedSpec, network: Network, diagnostics: Diagnostics) -> None:
    """Attach the checked `init` and `transfer` of `spec` to `network`."""
    if spec.init is not None:
        network.init = _init_plan(spec.init, [network.root], spec, network, diagnostics)
    for module, init in _group_inits(network):
        module.init = _init_plan(init, [module], spec, network, diagnostics)
    for name, block in spec.blocks.items():
        instances = [m for m in network.modules() if m.kind == "block" and m.block == name]
        if block.init is not None and instances:  # a family's block that this variant does not use: nothing
            network.block_inits[name] = _init_plan(block.init, instances, spec, network, diagnostics)
    if spec.transfer is not None:
        transfer = spec.transfer
        parts = _Parts(network.root, diagnostics)
        network.transfer = TransferPlan(
            pretrained=transfer.pretrained.value if transfer.pretrained else None,
            replace=[parts.check(v, "replace") for v in transfer.replace],
            freeze=[parts.check(v, "freeze") for v in transfer.freeze],
            bn=transfer.bn.value if transfer.bn else "train",
            lr_mult={parts.check(name, "lr_mult"): float(mult.value) for name, mult in transfer.lr_mult})


def freeze_batch_norms(spec: ResolvedSpec, diagnostics: Diagnostics) -> ResolvedSpec:
    """The spec to lower: under `transfer: {bn: frozen}`, every `bn` becomes a `frozen_bn`
    (FrozenBatchNorm2d, as torchvision's detection backbones freeze it: scale, shift and statistics
    are buffers, so nothing trains them and `train()` does not update them), in the body, in every
    block definition and in the defaults; the spec itself is left as written."""
    if spec.transfer is None or spec.transfer.bn is None or spec.transfer.bn.value != "frozen":
        return spec
    frozen = _FrozenItems(diagnostics)
    blocks = {name: replace(block, body=frozen.items(block.body), defaults=frozen.defaults(block.defaults))
              for name, block in spec.blocks.items()}
    return replace(spec, body=frozen.items(spec.body), blocks=blocks, defaults=frozen.defaults(spec.defaults))


FROZEN_BN_DROPS = ("momentum", "affine")  # a frozen batch norm keeps no running averages and is always affine


class _FrozenItems:
    def __init__(self, diagnostics: Diagnostics):
        self.diagnostics = diagnostics

    def items(self, items: list[Item]) -> list[Item]:
        return [self.item(item) for item in items]

    def item(self, item: Item) -> Item:
        if item.kind == "op" and item.op == "bn":
            return replace(item, op="frozen_bn", attrs=self.attrs(item.attrs))
        return replace(item, body=self.items(item.body)) if item.body else item

    def attrs(self, attrs: Map) -> Map:
        if "affine" in attrs:
            self.check_affine(attrs["affine"], attrs.value_span("affine"))
        kept = Map({key: value for key, value in attrs.items() if key not in FROZEN_BN_DROPS})
        kept.span, kept.key_spans, kept.value_spans = attrs.span, attrs.key_spans, attrs.value_spans
        return kept

    def defaults(self, defaults: dict[str, dict[str, Value]]) -> dict[str, dict[str, Value]]:
        if "bn" not in defaults:
            return defaults
        if "affine" in defaults["bn"]:
            self.check_affine(defaults["bn"]["affine"].value, defaults["bn"]["affine"].span)
        moved = {key: value for key, value in defaults["bn"].items() if key not in FROZEN_BN_DROPS}
        others = {op: attrs for op, attrs in defaults.items() if op != "bn"}
        return {**others, "frozen_bn": {**moved, **defaults.get("frozen_bn", {})}}

    def check_affine(self, value: object, span: Span) -> None:
        if value is not True:
            written = str(value).lower() if isinstance(value, bool) else value
            self.diagnostics.error(span, "`transfer: {bn: frozen}` makes every batch norm a FrozenBatchNorm2d, "
                                   f"which always has a scale and a shift; this one is `affine: {written}`",
                                   "keep its statistics with `bn: eval` instead")


def find_part(module: Module, path: str) -> Node | None:
    """The node that `layer2.0.conv1` names, walking down through the modules that calls apply. A layer's
    own name may hold dots (`inner_blocks.3`, a member of a module list), so the longest name wins."""
    steps = path.split(".")
    for end in range(len(steps), 0, -1):
        node = module.node(".".join(steps[:end]))
        if node is None:
            continue
        if end == len(steps):
            return node
        found = find_part(node.child, ".".join(steps[end:])) if node.child is not None else None
        if found is not None:
            return found
    return None


def subtree(module: Module) -> Iterator[Module]:
    """`module` and every module inside it, parents first (a shared module once, where it is built)."""
    yield module
    for node in module.nodes:
        if node.child is not None and node.shares is None:
            yield from subtree(node.child)


def _group_inits(network: Network) -> Iterator[tuple[Module, InitSpec]]:
    for module in network.modules():
        for node in module.nodes:
            if node.child is not None and node.child.kind == "group" and node.item is not None \
                    and node.item.init is not None:
                yield node.child, node.item.init


class _Parts:
    def __init__(self, root: Module, diagnostics: Diagnostics):
        self.root = root
        self.diagnostics = diagnostics

    def check(self, name: Value, what: str) -> str:
        if find_part(self.root, name.value) is None:
            self.diagnostics.error(name.span, f"'{what}' names '{name.value}', which is no part of the network",
                                   self.hint(name.value))
        return name.value

    def hint(self, path: str) -> str:
        head, _, rest = path.rpartition(".")
        module = self.root
        if head:
            owner = find_part(module, head)
            if owner is None:
                return f"'{head}' is no part of the network either"
            if owner.child is None:
                return f"'{head}' is a single layer, with no parts inside"
            module = owner.child
        names = [node.name for node in module.nodes if node.is_call or OPS[node.op].params(node.attrs)]
        return did_you_mean(rest or path, names) or f"its parts here: {', '.join(names)}"


def _init_plan(init: InitSpec, scopes: list[Module], spec: ResolvedSpec, network: Network,
               diagnostics: Diagnostics) -> InitPlan:
    """The rules of one `init`, for the modules it is written for: the network, a group, or every instance
    of a block definition (`scopes`); kinds and parts are looked for inside them."""
    nodes = [node for scope in scopes for module in subtree(scope) for node in module.nodes]
    plan = _kind_rules(init, nodes, spec, diagnostics)
    if init.order:
        if scopes[0].kind == "block":
            diagnostics.error(init.order[0].span, "'order' is for the network and its groups, not block definitions",
                              hint="state the block's parts as a group, whose class is built once")
        else:
            plan.order = _Order(scopes[0], spec, diagnostics).steps(init.order)
    for rule in init.parts:
        if _applies(rule, spec, diagnostics):
            part = _part_init(rule, scopes, network, diagnostics)
            if part is not None:
                plan.parts.append(part)
    return plan


def _kind_rules(init: InitSpec, nodes: list[Node], spec: ResolvedSpec, diagnostics: Diagnostics) -> InitPlan:
    """The dropped layers and the rules of op kinds that apply to `nodes` or to the dropped layers."""
    plan = InitPlan(dropped=[layer for layer in (_dropped(raw, spec, diagnostics) for raw in init.dropped) if layer])
    dropped_kinds = {layer.op for layer in plan.dropped}
    for rule in init.ops:
        # A layer whose input failed (reported already) has no inferred attributes to count weights from.
        present = [node for node in nodes if node.op == rule.target and node.shape is not None]
        if present and not any(OPS[rule.target].params(node.attrs) for node in present):
            diagnostics.error(rule.span, f"'{rule.target}' layers have no weights to initialise")
        elif present or rule.target in dropped_kinds:
            plan.ops.append(OpInit(rule.target, rule.tensors))
    return plan


class _Order:
    """Checks an `init: order` against the class it builds: every part with weights once, each name a direct
    part or a numbered member of a sequence that an earlier step (or earlier in the same step) built."""

    def __init__(self, scope: Module, spec: ResolvedSpec, diagnostics: Diagnostics):
        self.scope, self.spec, self.diagnostics = scope, spec, diagnostics
        self.built: dict[str, Span] = {}

    def steps(self, steps: list[SpecStep]) -> list[BuildStep]:
        names = [[name.value for name in step.build if self.check(name)] for step in steps]
        carved = [name for name in self.built if self.scope.node(name) is None]  # built apart from their sequences
        planned = [BuildStep(built, self.step_init(step, built, carved)) for step, built in zip(steps, names)]
        missing = [name for name in self.needed() if name not in self.built]
        if missing and all(len(step) == len(spec.build) for step, spec in zip(names, steps)):  # else a misspelling
            self.diagnostics.error(steps[-1].span, f"'order' does not build {', '.join(map(repr, missing))}",
                                   hint=f"every part with weights of {_scope_name(self.scope)} is built in some step")
        return planned

    def needed(self) -> list[str]:
        return [node.name for node in self.scope.nodes if node.shares is None and _has_weights(node)]

    def check(self, name: Value) -> bool:
        if name.value in self.built:
            self.diagnostics.error(name.span, f"'order' builds '{name.value}' twice",
                                   hint=f"it is built at line {self.built[name.value].line} already")
            return False
        node = self.scope.node(name.value)
        if node is None:
            node = self.member(name)
            if node is None:
                return False
        elif not _has_weights(node) or node.shares is not None:
            self.diagnostics.error(name.span, f"'{name.value}' has no weights of its own to build",
                                   hint="'order' lists the parts with weights")
            return False
        self.built[name.value] = name.span
        return True

    def member(self, name: Value) -> Node | None:
        """`extra.0.7`: member `7` of the sequence `extra.0`, built apart from it and later."""
        holders = [n for n in self.scope.nodes if name.value.startswith(n.name + ".")]
        holder = max(holders, key=lambda n: len(n.name)) if holders else None  # `extra.0` holds `extra.0.7`
        if holder is None:
            names = [node.name for node in self.scope.nodes if _has_weights(node)]
            self.diagnostics.error(name.span, f"'order' names '{name.value}', which is no part of "
                                   f"{_scope_name(self.scope)}",
                                   did_you_mean(name.value, names) or f"its parts: {', '.join(names)}")
            return None
        key = name.value[len(holder.name) + 1:]
        node = holder.child.node(key) if holder.child is not None and holder.child.kind == "sequence" else None
        if node is None or not key.isdigit() or not _has_weights(node):
            members = [n.name for n in holder.child.nodes if _has_weights(n)] if holder.child is not None else []
            self.diagnostics.error(name.span, f"'{key}' is no numbered member with weights of the sequence "
                                   f"'{holder.name}'", did_you_mean(key, members) or (
                                       f"its members with weights: {', '.join(members)}" if members else
                                       "only a member of a `seq` may be built apart from it"))
            return None
        if holder.name not in self.built:
            self.diagnostics.error(name.span, f"'{name.value}' is built before '{holder.name}', which holds it",
                                   hint=f"build '{holder.name}' first, earlier in this step or in an earlier one")
            return None
        return node

    def step_init(self, step: SpecStep, names: list[str], carved: list[str]) -> InitPlan:
        nodes = [node for name in names for node in self.nodes(name, carved)]
        return _kind_rules(step.init, nodes, self.spec, self.diagnostics)

    def nodes(self, name: str, carved: list[str]) -> list[Node]:
        node = find_part(self.scope, name)
        if node is None:
            return []
        if node.child is None:
            return [node]
        apart = {id(n) for other in carved if other.startswith(name + ".") for n in self.nodes(other, [])}
        return [n for module in subtree(node.child) for n in module.nodes if id(n) not in apart]


def _has_weights(node: Node) -> bool:
    if node.child is not None:
        return any(OPS[n.op].params(n.attrs) for module in subtree(node.child) for n in module.nodes
                   if not n.is_call)
    return bool(OPS[node.op].params(node.attrs))


def _dropped(layer: DroppedLayer, spec: ResolvedSpec, diagnostics: Diagnostics) -> DroppedInit | None:
    """Every attribute of a dropped layer, evaluated over the spec's parameters; with no input, none is
    inferred, so the channels must be stated."""
    attrs: dict[str, Any] = {}
    for name, attr in OPS[layer.op].attrs.items():
        if name in layer.attrs:
            try:
                attrs[name] = typed_value(layer.attrs[name], attr.kind, spec.param_env(), layer.attrs.value_span(name),
                                          f"'{name}' of the dropped {layer.op}", attr.minimum, attr.maximum, attr.above)
            except SpecError as error:
                diagnostics.extend(error)
                return None
        elif attr.inferred or attr.required:
            diagnostics.error(layer.span, f"the dropped {layer.op} needs '{name}'",
                              hint="a dropped layer has no input to infer it from: state it")
            return None
        else:
            attrs[name] = attr.default
    return DroppedInit(layer.op, attrs)


def _applies(rule: InitRule, spec: ResolvedSpec, diagnostics: Diagnostics) -> bool:
    if rule.condition is None:
        return True
    try:
        return bool(typed_value(rule.condition, "bool", spec.param_env(),
                                rule.condition_span or rule.span, "'if'"))  # the loader sets both together
    except SpecError as error:
        diagnostics.extend(error)
        return False


def _part_init(rule: InitRule, scopes: list[Module], network: Network, diagnostics: Diagnostics) -> PartInit | None:
    """`bottleneck.bn3` is `bn3` in every instance of block `bottleneck`; anything else a path in the scope."""
    head, _, rest = rule.target.partition(".")
    if head in network.blocks and rest:
        instances = [m for scope in scopes for m in subtree(scope) if m.kind == "block" and m.block == head]
        if not instances:
            return None  # the family defines the block, this variant does not use it
        if any(find_part(instance, rest) is None for instance in instances):
            diagnostics.error(rule.span, f"block '{head}' has no part '{rest}'",
                              _Parts(instances[0], diagnostics).hint(rest))
            return None
        return PartInit(head, rest, rule.tensors)
    if any(find_part(scope, rule.target) is None for scope in scopes):
        diagnostics.error(rule.span, f"init names '{rule.target}', which is no part of {_scope_name(scopes[0])}",
                          _Parts(scopes[0], diagnostics).hint(rule.target))
        return None
    return PartInit(None, rule.target, rule.tensors)


def _scope_name(scope: Module) -> str:
    if scope.kind == "network":
        return "the network"
    return f"block '{scope.block}'" if scope.kind == "block" else f"group '{scope.path}'"
