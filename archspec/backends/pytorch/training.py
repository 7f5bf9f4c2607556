"""What the network class does for training, from the IR's `init` and `transfer` plans.

The initialisation is written as torchvision writes it, a loop over `self.modules()` at the end of
`__init__` (so the random draws come in the same order as in torchvision's constructors), followed by
the named parts; a group or block with an `init` of its own ends its own `__init__` that way.
Fine-tuning adds the freezing to `__init__`, and `train`, `load_pretrained` and `param_groups` methods
to the class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.graph import Module, Network, Node
from ...ir.training import DroppedInit, InitPlan, PartInit, TransferPlan, find_part
from ...ops import OPS, CodeArgs
from ...spec import expr as ex
from ...spec.model import InitCall
from ..writer import LineWriter, call_lines
from .parts import docstring_source

if TYPE_CHECKING:
    from .module_file import FileEmitter

LOAD_HELPER = "load_state_except"
LOAD_HELPER_SOURCE = '''def load_state_except(
    model: nn.Module, state: Dict[str, Tensor], replaced: List[str]
) -> Tuple[List[str], List[str]]:
    """Load `state` into `model` except the parts in `replaced` (a new head); returns the names
    loaded and the names skipped. Any other difference raises ValueError naming every tensor that
    differs."""

    def is_replaced(key: str) -> bool:
        return any(key == part or key.startswith(part + ".") for part in replaced)

    own = model.state_dict()
    problems = []
    for key in sorted(set(own) | set(state)):
        if is_replaced(key) or key.endswith("num_batches_tracked"):  # older files lack the batch counts
            continue
        if key not in state:
            problems.append(f"{key}: missing from the file (the model has {list(own[key].shape)})")
        elif key not in own:
            problems.append(f"{key}: the file has {list(state[key].shape)}, the model has no such tensor")
        elif own[key].shape != state[key].shape:
            problems.append(f"{key}: the file has {list(state[key].shape)}, the model {list(own[key].shape)}")
    if problems:
        raise ValueError(f"{len(problems)} tensors do not match the model:\\n  " + "\\n  ".join(problems))
    loaded = [key for key in state if key in own and not is_replaced(key)]
    model.load_state_dict({key: state[key] for key in loaded}, strict=False)
    return loaded, [key for key in state if is_replaced(key)]'''


def torch_classes(network: Network, op: str, dropped: tuple[DroppedInit, ...] = ()) -> list[str]:
    """The classes the modules of op kind `op` have in the emitted file (a bn is BatchNorm2d or 1d),
    read from the op's own code template so that the two cannot disagree."""
    layers = [(node.op, node.attrs) for node in _nodes(network)] + [(layer.op, layer.attrs) for layer in dropped]
    return sorted({_construct(kind, attrs).split("(", 1)[0] for kind, attrs in layers if kind == op})


def _construct(op: str, attrs: dict) -> str:
    """`nn.Linear(2048, 1000)`: the module of a layer whose every attribute is known."""
    return OPS[op].emit(CodeArgs(dict(attrs), {k: ex.python_literal(v) for k, v in attrs.items()}))


def _nodes(network: Network) -> list[Node]:
    return [node for module in network.modules() for node in module.nodes]


def _isinstance(classes: list[str]) -> str:
    return classes[0] if len(classes) == 1 else f"({', '.join(classes)})"


def _initialise(call: InitCall, tensor: str) -> str:
    """`nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")`; strings come from fixed
    choices and numbers are numbers (the loader checks both), so nothing else reaches the file."""
    if call.function == "constant":
        return f"nn.init.constant_({tensor}, {ex.python_literal(call.args['val'])})"
    args = [tensor] + [f'{key}="{value}"' if isinstance(value, str) else f"{key}={ex.python_literal(value)}"
                       for key, value in call.args.items()]
    return call_lines(f"nn.init.{call.function}_", args)


def _attribute(base: str, path: str) -> str:
    """`m.downsample[1]` for `downsample.1`: the spelling of a part path as Python."""
    for part in path.split("."):
        base += f"[{part}]" if part.isdigit() else f".{part}"
    return base


def _may_lack(network: Network, op: str, tensor: str) -> bool:
    """Whether some module of kind `op` has no such tensor (a conv without bias), so the code checks."""
    keys = ("bias", "affine") if tensor == "bias" else ("affine",)
    return any(node.attrs.get(key) is False for node in _nodes(network) if node.op == op for key in keys)


# ---------------------------------------------------------------- __init__


def emit_init(emitter: "FileEmitter", writer: LineWriter) -> None:
    """The end of the network's `__init__`: initialisation, then the freezing of a fine-tuned network."""
    network = emitter.network
    if network.init is not None:
        emit_initialisation(emitter, network.init, writer)
    if network.transfer is not None:
        _freezing(network, network.transfer, writer)


def emit_initialisation(emitter: "FileEmitter", plan: InitPlan, writer: LineWriter) -> None:
    """The end of an `__init__` with an `init`: the dropped layers, the loop over the op kinds, the parts."""
    _dropped(plan, writer)
    _op_loop(emitter.network, plan, writer)
    _part_rules(emitter, plan.parts, writer)


def _dropped(plan: InitPlan, writer: LineWriter) -> None:
    if not plan.dropped:
        return
    constructs = [_construct(layer.op, layer.attrs) for layer in plan.dropped]
    writer.line()
    writer.line("# The published code builds these layers too, initialises them and drops them (the spec's")
    writer.line("# `init: dropped`): built here as well, they use up the same random numbers, so the rest match.")
    if plan.ops:
        writer.block(call_lines("dropped = ", constructs, brackets="[]"))
    else:
        for construct in constructs:
            writer.line(construct)


def _op_loop(network: Network, plan: InitPlan, writer: LineWriter, parts: tuple[str, ...] = ("self",),
             comment: str = "# Initialisation as published (the spec's `init`), in the order torchvision draws it."
             ) -> None:
    """The loop over the modules of `parts` (and the dropped layers) that applies the rules of op kinds."""
    if not plan.ops:
        return
    writer.line()
    writer.line(comment)
    sources = [f"*{part}.modules()" for part in parts] + (["*dropped"] if plan.dropped else [])
    if len(sources) == 1:
        writer.line(f"for m in {parts[0]}.modules():")
    else:
        writer.block(call_lines("for m in ", sources, brackets="[]") + ":")
    writer.indent()
    for position, rule in enumerate(plan.ops):
        keyword = "if" if position == 0 else "elif"
        classes = torch_classes(network, rule.op, tuple(plan.dropped))
        writer.line(f"{keyword} isinstance(m, {_isinstance(classes)}):")
        writer.indent()
        for tensor, call in rule.tensors.items():
            line = _initialise(call, f"m.{tensor}")
            if _may_lack(network, rule.op, tensor):
                writer.line(f"if m.{tensor} is not None:")
                writer.indent()
                writer.block(line)
                writer.outdent()
            else:
                writer.block(line)
        writer.outdent()
    writer.outdent()


def emit_build_order(emitter: "FileEmitter", module: Module, plan: InitPlan, writer: LineWriter) -> dict[str, str]:
    """The steps of an `init: order`, at the start of `__init__`: each builds its parts into local variables and
    initialises them. Returns what each attribute is then set to (the local, or the sequence put back together
    with the members built apart from it), so that the attributes keep the layer order and the state_dict's."""
    if not plan.order:
        return {}
    local = {part: _local_name(part) for step in plan.order for part in step.parts}
    writer.line("# Built in the published order (the spec's `init: order`), each step initialised as it is built,")
    writer.line("# so the random draws match; the attributes are set after, in the layer order the state_dict keeps.")
    for number, step in enumerate(plan.order, 1):
        for part in step.parts:
            node = find_part(module, part)
            assert node is not None, f"'{part}' not in '{module.path}'"  # the IR checked every name
            writer.block(f"{local[part]} = {_built_apart(emitter, node, part, local)}")
        _dropped(step.init, writer)
        modules = tuple(local[part] for part in step.parts if _is_module(module, part))
        comment = f"# Step {number} of the order initialises what it built, as published."
        _op_loop(emitter.network, step.init, writer, modules, comment)
        writer.line()
    return {part: _put_together(module, part, local) for part in local if module.node(part) is not None}


def _local_name(part: str) -> str:
    name = part.replace(".", "_")
    return name + "_" if name in ("m", "dropped", "self") else name  # the loop's names stay free


def _is_module(module: Module, part: str) -> bool:
    node = find_part(module, part)
    return node is not None and (node.is_call or OPS[node.op].applies is None)  # not a bare nn.Parameter


def _built_apart(emitter: "FileEmitter", node: Node, part: str, local: dict[str, str]) -> str:
    """A part's module, less the members that a later step builds (its sequence is numbered, so the members
    it keeps stay positional)."""
    child = _split_sequence(node, part, local)
    if child is None:
        return emitter.concrete_construct(node)
    kept = [emitter.member_construct(n) for n in child.nodes if f"{part}.{n.name}" not in local]
    return call_lines("nn.Sequential", kept)


def _split_sequence(node: Node, part: str, local: dict[str, str]) -> Module | None:
    """The sequence of `part` when some of its members are built apart from it (they have locals of their own)."""
    child = node.child
    if child is None or child.kind != "sequence" or not any(f"{part}.{n.name}" in local for n in child.nodes):
        return None
    return child


def _put_together(module: Module, part: str, local: dict[str, str]) -> str:
    """`nn.Sequential(*extra_0, extra_0_7)`: a sequence with the members built apart from it back in place."""
    node = module.node(part)
    child = _split_sequence(node, part, local) if node is not None else None
    if child is None:
        return local[part]
    items, kept, start = [], 0, 0
    total = sum(f"{part}.{n.name}" not in local for n in child.nodes)
    for member in child.nodes:
        path = f"{part}.{member.name}"
        if path not in local:
            kept += 1
            continue
        if kept > start:
            items.append(_slice(local[part], start, kept, total))
        items.append(local[path])
        start = kept
    if total > start:
        items.append(_slice(local[part], start, total, total))
    return call_lines("nn.Sequential", items)


def _slice(name: str, start: int, end: int, total: int) -> str:
    if start == 0 and end == total:
        return f"*{name}"
    return f"*{name}[{start or ''}:{end if end < total else ''}]"


def _part_rules(emitter: "FileEmitter", parts: list[PartInit], writer: LineWriter) -> None:
    by_block: dict[str, list[PartInit]] = {}
    for part in parts:
        if part.block is not None:
            by_block.setdefault(part.block, []).append(part)
    if by_block:
        writer.line()
        writer.line("# Named parts of every block (the spec's `init: parts`).")
        writer.line("for m in self.modules():")
        writer.indent()
        for position, (block, rules) in enumerate(by_block.items()):
            keyword = "if" if position == 0 else "elif"
            writer.line(f"{keyword} isinstance(m, {emitter.network.blocks[block].class_name}):")
            writer.indent()
            for rule in rules:
                for tensor, call in rule.tensors.items():
                    writer.block(_initialise(call, _attribute("m", rule.path) + f".{tensor}"))
            writer.outdent()
        writer.outdent()
    network_parts = [part for part in parts if part.block is None]
    if network_parts:
        writer.line()
        writer.line("# Named parts of the network (the spec's `init: parts`).")
        for rule in network_parts:
            for tensor, call in rule.tensors.items():
                writer.block(_initialise(call, _attribute("self", rule.path) + f".{tensor}"))


def _freezing(network: Network, transfer: TransferPlan, writer: LineWriter) -> None:
    """The frozen parts (`bn: frozen` needs nothing here: lowering made every batch norm a FrozenBatchNorm2d,
    whose tensors are all buffers)."""
    if transfer.freeze:
        writer.line()
        writer.line("# Fine-tuning (the spec's `transfer`): these parts keep their pretrained weights.")
        names = ", ".join(f'"{name}"' for name in transfer.freeze)
        writer.line(f"for name in [{names}]:")
        writer.indent()
        writer.line("self.get_submodule(name).requires_grad_(False)")
        writer.outdent()


# ---------------------------------------------------------------- methods


def emit_transfer_methods(emitter: "FileEmitter", writer: LineWriter) -> None:
    """`train` (batch norm kept in eval mode, for `bn: eval`), `load_pretrained` and `param_groups`, after
    `forward`.
    `writer` is inside a method body, as `forward` leaves it, and is left there."""
    network = emitter.network
    transfer = network.transfer
    if transfer is None:
        return
    emitter.typing.update(("Any", "Dict", "List", "Tuple"))
    emitter.helpers.setdefault(LOAD_HELPER, LOAD_HELPER_SOURCE)
    writer.outdent()
    bn_classes = torch_classes(network, "bn")
    if transfer.bn == "eval" and bn_classes:
        _train_method(network.root.class_name, bn_classes, transfer.bn, writer)
    _load_method(transfer, writer)
    _param_groups_method(transfer, writer)
    writer.indent()


def _train_method(class_name: str, bn_classes: list[str], mode: str, writer: LineWriter) -> None:
    writer.line()
    writer.line(f'def train(self, mode: bool = True) -> "{class_name}":')
    writer.indent()
    writer.block(docstring_source(f"Train as usual, but batch norm keeps its pretrained statistics (the spec's "
                                  f"`bn: {mode}`).", writer.level))
    writer.line("super().train(mode)")
    writer.line("for m in self.modules():")
    writer.indent()
    writer.line(f"if isinstance(m, {_isinstance(bn_classes)}):")
    writer.indent()
    writer.line("m.eval()")
    writer.outdent()
    writer.outdent()
    writer.line("return self")
    writer.outdent()


def _load_method(transfer: TransferPlan, writer: LineWriter) -> None:
    replaced = ", ".join(f'"{name}"' for name in transfer.replace)
    head = f" but the replaced {', '.join(transfer.replace)}" if transfer.replace else ""
    writer.line()
    writer.line("def load_pretrained(self, path: str) -> Tuple[List[str], List[str]]:")
    writer.indent()
    writer.block(docstring_source(f"Load weights in torchvision's state_dict format (or an `archspec train` "
                                  f"checkpoint) into every part{head}. Returns the names loaded and the names "
                                  "skipped; any other mismatch is a ValueError listing each tensor.", writer.level))
    writer.line('state = torch.load(path, map_location="cpu", weights_only=True)')
    writer.line('if isinstance(state.get("model"), dict):  # a checkpoint of `archspec train`')
    writer.indent()
    writer.line('state = state["model"]')
    writer.outdent()
    writer.line(f"return {LOAD_HELPER}(self, state, [{replaced}])")
    writer.outdent()


def _param_groups_method(transfer: TransferPlan, writer: LineWriter) -> None:
    multipliers = ", ".join(f'"{name}": {ex.python_literal(mult)}' for name, mult in transfer.lr_mult.items())
    writer.line()
    writer.line("def param_groups(self, base_lr: float) -> List[Dict[str, Any]]:")
    writer.indent()
    writer.block(docstring_source("Optimizer groups: each part at `base_lr` times its multiplier (the spec's "
                                  "`lr_mult`; the longest matching part wins), the rest at `base_lr`; frozen "
                                  "parameters are left out.", writer.level))
    writer.line(f"multipliers = {{{multipliers}}}")
    writer.line("groups: Dict[float, List[nn.Parameter]] = {}")
    writer.line("for name, param in self.named_parameters():")
    writer.indent()
    writer.line("if param.requires_grad:")
    writer.indent()
    writer.line('parts = [part for part in multipliers if name == part or name.startswith(part + ".")]')
    writer.line("mult = multipliers[max(parts, key=len)] if parts else 1.0")
    writer.line("groups.setdefault(mult, []).append(param)")
    writer.outdent()
    writer.outdent()
    writer.line('return [{"params": params, "lr": base_lr * mult, "lr_mult": mult} for mult, params in groups.items()]')
    writer.outdent()
