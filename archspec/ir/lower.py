"""Lowering: a ResolvedSpec becomes the graph IR.

Walks the spec's body in order, evaluating expressions, expanding blocks,
`seq` and `repeat`, resolving `from` references, and inferring each node's
output shape at the spec's default input size. Input-dependent attributes
(a conv's input channels, a linear layer's input features) are fixed here, as
a constructor argument fixes them in PyTorch; `passes.shapes` re-checks them
for any other input size.

Problems are collected, not raised one at a time: a node that fails gets no
shape, and nodes that read it skip their checks, so one mistake gives one error.

The pass is one class split by subject: this module walks the network and its
bodies; `references.py` names layers and resolves `from`; `op_nodes.py` turns
op items into nodes; `containers.py` lowers `seq`, `repeat`, blocks, groups and
shared weights; `inplace.py` picks in-place activations afterwards, and
`scope.py` holds what the walk carries.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from ..errors import Diagnostics, Span, SpecError, processing
from ..names import attribute_problem
from ..ops import OPS, Shape
from ..spec.model import InitSpec, Item, ResolvedSpec
from ..spec.values import typed_value
from ..spec.yaml_source import Map
from .containers import Containers
from .graph import Method, Module, Network, Node, lint
from .inplace import choose_inplace
from .parameters import expose_params
from .op_nodes import OpNodes
from .references import References
from .scope import Scope, TooLarge, join_path
from .training import freeze_batch_norms, lower_training

MAX_NODES = 100_000  # layers and repeat passes; lowering costs tens of microseconds per layer
# Items evaluated, kept or not: a layer disabled with `if` costs an evaluation but adds no layer.
MAX_ITEMS = 1_000_000


def lower(spec: ResolvedSpec) -> Network:
    """Build the IR of a resolved spec; raises SpecError with every problem found."""
    network, diagnostics = lower_partial(spec)
    diagnostics.check()
    problems = lint(network)
    if problems:
        raise AssertionError("archspec built an inconsistent graph (a bug): " + "; ".join(problems))
    return network


def lower_partial(spec: ResolvedSpec) -> tuple[Network, Diagnostics]:
    """The IR even when the spec has errors: each failed layer is a stand-in `identity` node that
    carries its errors (`Node.errors`) and has no shape, so a diagram can still show the network
    and point at what is wrong. Raises SpecError only when the network passes a size limit."""
    diagnostics = Diagnostics()
    written = spec
    spec = freeze_batch_norms(spec, diagnostics)
    try:
        network = _Lowering(spec, diagnostics).network()
    except TooLarge as stop:
        diagnostics.extend(stop.error)
        raise SpecError(diagnostics.errors) from None
    if spec is not written:
        network.spec_hash = spec_hash(written)  # the hash names the spec as written, not as lowered
    lower_training(spec, network, diagnostics)
    network.warnings = diagnostics.warnings
    return network, diagnostics


def spec_hash(spec: ResolvedSpec) -> str:
    """sha256 of the resolved spec in a canonical form (key order in mappings does not matter)."""
    blocks = {name: {"params": {p: [d.type, d.default] for p, d in b.params.items()}, "body": _raw_items(b.body),
                     "inputs": b.inputs, "outputs": b.outputs, "class": b.class_name,
                     "defaults": {op: {k: v.value for k, v in attrs.items()} for op, attrs in b.defaults.items()}}
              for name, b in spec.blocks.items()}
    for name, b in spec.blocks.items():
        if b.init is not None:  # present only when the block has one (older hashes stay)
            blocks[name]["init"] = _init_canonical(b.init)
    canonical = {
        "name": spec.name.value, "class": spec.class_name.value, "input": spec.input.value,
        "params": {k: v.value for k, v in spec.params.items()},
        "defaults": {op: {k: v.value for k, v in attrs.items()} for op, attrs in spec.defaults.items()},
        "blocks": blocks, "body": _raw_items(spec.body),
        "outputs": spec.outputs.value if spec.outputs else None,
    }
    if spec.detect is not None:
        canonical["detect"] = spec.detect.value
    canonical.update(_training_canonical(spec))
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _init_canonical(init: InitSpec) -> list[Any]:
    rules: list[Any] = [[r.target, r.condition, {t: [c.function, c.args] for t, c in r.tensors.items()}]
                        for r in init.ops + init.parts]
    if init.dropped:
        rules.append({"dropped": [[layer.op, dict(layer.attrs)] for layer in init.dropped]})
    if init.order:
        rules.append({"order": [[[name.value for name in step.build], _init_canonical(step.init)]
                                for step in init.order]})
    return rules


def _training_canonical(spec: ResolvedSpec) -> dict[str, Any]:
    """`init` and `transfer` for the spec hash, present only when the spec has them (older hashes stay)."""
    found: dict[str, Any] = {}
    if spec.init is not None:
        found["init"] = _init_canonical(spec.init)
    if spec.transfer is not None:
        t = spec.transfer
        found["transfer"] = [[v.value for v in t.replace], [v.value for v in t.freeze], t.bn and t.bn.value,
                             [[n.value, m.value] for n, m in t.lr_mult]]
    return found


def _raw_items(items: list[Item]) -> list[Any]:
    return [{"op": item.op, "attrs": {k: v for k, v in item.attrs.items() if k != "body"},
             "body": _raw_items(item.body)} for item in items]


class _Lowering(References, OpNodes, Containers):
    """The lowering pass: the network and its bodies here; names and references, layers and containers
    in the modules of the classes it combines."""

    def __init__(self, spec: ResolvedSpec, diagnostics: Diagnostics):
        self.spec = spec
        self.diagnostics = diagnostics
        self.node_count = 0
        self.group_classes: dict[str, str] = {}  # class name -> what it is the class of
        self.repeat_steps = 0
        self.items_evaluated = 0
        self.repeats: list[Item] = []  # the repeats whose copies are being lowered, innermost last
        self.input_shape: Shape = ()  # the network's, once read
        self.block_stack: list[str] = []

    # ------------------------------------------------------------ network

    def network(self) -> Network:
        spec = self.spec
        try:
            shape = typed_value(spec.input.value, "shape", {}, spec.input.span, "'input'", minimum=1)
        except SpecError as error:
            self.diagnostics.extend(error)
            shape = (3, 224, 224)
        self.input_shape = shape
        root = Module(path="", kind="network", class_name=spec.class_name.value, span=spec.body_span,
                      inputs=["input"], input_shapes=[shape])
        if len(shape) == 3 and shape[-1] in (1, 3, 4) and shape[0] > 4:
            self.diagnostics.warning(spec.input.span, f"input {list(shape)} looks channels-last",
                                     hint="archspec (like PyTorch) reads 'input' as [channels, height, width]")
        if not spec.body:
            self.diagnostics.error(spec.body_span, "the body is empty", hint="list at least one layer")
        scope = Scope(module=root, defaults=spec.defaults, in_sequence=False, current="input")
        self.body(spec.body, scope, spec.param_env())
        self.set_outputs(root, scope, spec.outputs.value if spec.outputs else None,
                         spec.outputs.span if spec.outputs else spec.body_span)
        self.check_module_lists(root)
        methods = self.methods(spec, scope)
        network = Network(name=spec.name.value, root=root, input_shape=shape, spec_path=spec.path,
                          spec_hash=spec_hash(spec), doc=spec.doc, blocks=spec.blocks,
                          name_span=spec.name.span, class_span=spec.class_name.span, methods=methods,
                          files=list(spec.files))
        self.detector(network)
        for problem in choose_inplace(network):
            self.diagnostics.add(problem)
        if not self.diagnostics.errors:
            expose_params(spec, network)
            self.warn_unread(network)
        return network

    def detector(self, network: Network) -> None:
        """RoI Align only in a detector, which proposes the regions it crops, and there only in the body itself,
        where the detector calls it with the proposals (archspec.detection reads the `detect` section once the
        network is lowered and checks which layer of the body it is)."""
        for module in network.modules():
            for node in module.nodes:
                if node.op != "roi_align":
                    continue
                if self.spec.detect is None:
                    self.diagnostics.error(node.span, f"roi_align '{node.name}' crops regions that only a "
                                           "detector proposes", hint="add a 'detect' section (a two-stage "
                                           "detector) or remove the layer")
                elif module is not network.root:
                    # Inside a block or a group it would be called as any layer, on one tensor and no regions.
                    self.diagnostics.error(node.span, f"roi_align '{join_path(module.path, node.name)}' is "
                                           f"inside '{module.path}': a detector crops its proposals with a "
                                           "roi_align of the body itself", hint="place the roi_align in the "
                                           "body, between the RPN head and the box head")

    def warn_unread(self, network: Network) -> None:
        """A layer whose output nothing reads is computed for nothing: most often a `from` that names the
        wrong layer. Warned once per place in the spec, however many instances a block has."""
        for module in network.modules():
            read = {module.value(name) for name in module.outputs}
            read |= {module.value(name.rsplit(".", 1)[0]) for name in module.outputs}
            for node in module.nodes:
                for source in node.inputs:
                    read.add(module.value(source))
                    read.add(module.value(source.rsplit(".", 1)[0]))
            for node in module.nodes:
                if node.name not in read and module.kind != "sequence":
                    self.diagnostics.warning(node.span, f"the output of '{node.name}' is never read",
                                             hint="nothing reads it and it is not an output; check the 'from' "
                                             "of the layers after it")

    def methods(self, spec: ResolvedSpec, scope: Scope) -> list[Method]:
        """`methods: {encode: {to: latent}, decode: {from: latent}}`: named parts of forward."""
        if spec.methods is None:
            return []
        raw, span = spec.methods.value, spec.methods.span
        if not isinstance(raw, Map):
            self.diagnostics.error(span, "'methods' maps method names to {from: layer, to: layer}")
            return []
        root, found = scope.module, []
        for name, ends in raw.items():
            key_span = raw.key_span(name)
            problem = attribute_problem(name) if name != "forward" else "'forward' is the network's own method"
            if problem or root.node(name) is not None:
                self.diagnostics.error(key_span, f"invalid method name: {problem or f'{name!r} is a layer name'}")
                continue
            if not isinstance(ends, Map) or set(ends) - {"from", "to"}:
                self.diagnostics.error(raw.value_span(name), f"method '{name}' takes 'from' and 'to' (layer names)")
                continue
            wrong = [end for end in ("from", "to") if end in ends and not isinstance(ends[end], str)]
            if wrong:
                self.diagnostics.error(ends.value_span(wrong[0]), f"method '{name}': '{wrong[0]}' must be a layer "
                                       f"name, got {ends[wrong[0]]!r}")
                continue
            if not root.outputs:  # an empty body, reported already
                continue
            try:
                source = self.reference(ends["from"], scope, ends.value_span("from")) if "from" in ends else "input"
                outputs = [root.value(o) for o in root.outputs]
                target = self.reference(ends["to"], scope, ends.value_span("to")) if "to" in ends else outputs[0]
            except SpecError as error:
                self.diagnostics.extend(error)
                continue
            problem = _method_problem(root, root.value(source), root.value(target))
            if problem:
                self.diagnostics.error(key_span, f"method '{name}': {problem}",
                                       hint="a method is the part of forward from one layer's output to a later one")
                continue
            found.append(Method(name, root.value(source), root.value(target), key_span))
        return found

    def set_outputs(self, module: Module, scope: Scope, raw: Any, span: Span) -> None:
        """What a network, block or group returns: a name, a list (a tuple), or a mapping (a dict). Naming a
        layer with several outputs returns all of them, with its keys."""
        if raw is None:
            raw = scope.current
            if raw is None:
                module.outputs = []
                return
        if isinstance(raw, str):
            refs, keys = [raw], None
        elif isinstance(raw, list) and all(isinstance(r, str) for r in raw) and raw:
            refs, keys = list(raw), None
        elif isinstance(raw, dict) and all(isinstance(r, str) for r in raw.values()) and raw:
            refs, keys = list(raw.values()), [str(k) for k in raw]
        else:
            self.diagnostics.error(span, "'outputs' is a name, a list of names, or a mapping of output names "
                                   "to layer names")
            module.outputs = [scope.current] if scope.current else []
            return
        outputs, kept = [], []
        for ref, key in zip(refs, keys or refs):
            try:
                outputs.append(self.reference(ref, scope, span))
                kept.append(key)
            except SpecError as error:
                self.diagnostics.extend(error)
        keys = kept if keys else None  # a key per output that resolved, so the two lists stay aligned
        if keys is not None and len(keys) == 1 and module.kind in ("block", "group"):
            keys = None  # one output, whatever its name: a tensor, not a dict
        node = module.node(module.value(outputs[0])) if len(outputs) == 1 and keys is None else None
        several = node.output_names() if node is not None else None
        if node is not None and several is not None:  # the one output is a layer with several
            keys = node.child.output_keys if node.child is not None else None
            outputs = [f"{outputs[0]}.{key}" for key in several]
        elif any(module.is_multi(name) for name in outputs):
            self.diagnostics.error(span, "an output that has several outputs itself must be the only one",
                                   hint="name its outputs one by one, e.g. fpn.0")
        module.outputs, module.output_keys = outputs, keys

    # ------------------------------------------------------------ bodies and items

    def body(self, items: list[Item], scope: Scope, env: dict[str, Any]) -> None:
        if not items and (scope.block is not None or scope.in_sequence) and scope.module.kind != "network":
            self.diagnostics.error(scope.module.span, f"'{scope.module.path}' has an empty body",
                                   hint="list at least one layer")
        for item in items:
            try:
                self.item(item, scope, env)
            except SpecError as error:
                self.diagnostics.extend(error)
                self.placeholder(item, scope, env, error)

    def placeholder(self, item: Item, scope: Scope, env: dict[str, Any], error: SpecError) -> None:
        """Stand in for a failed item so that later references to it do not cascade into more errors."""
        if scope.naming is not None and scope.naming[0] is item:
            name = scope.naming[1]
        else:
            try:
                name = self.item_name(item, scope, env)
            except SpecError:
                return
        if name is None or scope.module.node(name) is not None or item.kind == "repeat":
            return
        try:  # what it would have read, so that a diagram draws it in place; nothing reads it otherwise
            inputs = self.inputs(item, scope, env)
        except SpecError:
            inputs = []
        scope.module.add(Node(name=name, op="identity", attrs={}, inputs=inputs, span=item.span, item=item,
                              errors=list(error.diagnostics)))
        scope.current = name
        if item.name is None and item.op not in OPS and item.op not in self.spec.blocks:
            self.guessed_names(item, scope, name)

    def guessed_names(self, item: Item, scope: Scope, name: str) -> None:
        """An unnamed layer of an unknown op has no name the spec's author can know: a later reference to
        the automatic name it was meant to have (`conv1` for a misspelled `convv`, or `convv`) reads the
        stand-in, so that the one mistake is reported once."""
        meant = [item.op.lstrip("$")]
        close = difflib.get_close_matches(meant[0], list(OPS) + list(self.spec.blocks), n=1, cutoff=0.6)
        meant += close
        for base in meant:
            for guess in (base, f"{base}1"):
                if guess != name and scope.module.node(guess) is None and guess not in scope.module.aliases:
                    scope.module.aliases[guess] = name

    def item(self, item: Item, scope: Scope, env: dict[str, Any]) -> None:
        processing(item.span)
        self.items_evaluated += 1
        if self.items_evaluated > MAX_ITEMS:
            raise TooLarge(SpecError.at(item.span, f"lowering evaluates more than {MAX_ITEMS} items (layers, "
                                        "those disabled with 'if' included)", hint="check the repeat counts"))
        if item.condition is not None and scope.block is not None and not scope.in_sequence and item.name is None:
            raise SpecError.at(item.attrs.key_span("if"), "a layer with 'if' inside a block needs a 'name'",
                               hint="later layers refer to it by that name; when disabled it passes its input on")
        if item.share is not None and scope.in_sequence:
            raise SpecError.at(item.attrs.key_span("share"), "'share' is not possible inside a 'seq'",
                               hint="apply the shared layer in a block or the network body")
        if item.kind == "repeat":
            self.repeat(item, scope, env)
            return
        if item.condition is not None and not self.enabled(item, scope, env):
            return
        inputs = self.inputs(item, scope, env)
        name = self.item_name(item, scope, env)
        scope.naming = (item, name)
        self.count_node(item)
        if item.share is not None:
            node = self.shared(item, item.share, scope, name, inputs)
        elif item.kind == "op":
            node = self.op_node(item, scope, env, name, inputs)
        elif item.kind == "seq":
            node = self.seq_node(item, scope, env, name, inputs)
        elif item.kind == "group":
            node = self.group_node(item, scope, env, name, inputs)
        else:
            node = self.block_node(item, scope, env, name, inputs)
        if self.repeats and self.block_stack:
            node.indices = {repeat.var: env[repeat.var] for repeat in self.repeats}
        scope.module.add(node)
        scope.spans[node.name] = item.span
        scope.current = node.name

    def count_node(self, item: Item) -> None:
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise TooLarge(SpecError.at(item.span, f"the network has more than {MAX_NODES} layers",
                                         hint="check the repeat counts"))

    def count_steps(self, item: Item, steps: int) -> None:
        """Count the passes of a repeat's body before running them: bounds the work even where a body adds
        no layers, and refuses a huge count at once rather than after building the limit's worth of layers."""
        self.repeat_steps += steps
        if self.repeat_steps > MAX_NODES:
            raise TooLarge(SpecError.at(item.attrs.value_span("count"), f"the repeats run their bodies more "
                                         f"than {MAX_NODES} times", hint="check the repeat counts"))
        # Each pass evaluates every item of the body, kept or disabled: refuse at once what would pass the limit.
        if self.items_evaluated + steps * len(item.body) > MAX_ITEMS:
            raise TooLarge(SpecError.at(item.attrs.value_span("count"), f"this repeat would evaluate "
                                         f"{steps:,} x {len(item.body):,} items, past the limit of "
                                         f"{MAX_ITEMS:,} items evaluated in all", hint="check the repeat counts"))

    def enabled(self, item: Item, scope: Scope, env: dict[str, Any]) -> bool:
        span = item.attrs.value_span("if")
        enabled = typed_value(item.condition, "bool", env, span, "'if'")
        if enabled:
            return True
        if item.name is not None and not scope.in_sequence:
            inputs = self.inputs(item, scope, env)
            if len(inputs) != 1 and not _is_merge(item):
                raise SpecError.at(span, "only a layer with one input, or a merge, can be disabled with 'if'",
                                   hint="a disabled merge passes on its first input")
            name = self.item_name(item, scope, env)
            scope.module.aliases[name] = inputs[0]
            scope.spans[name] = item.span
            # The next layer reads it by name, so every instance of a block has the same dataflow.
            scope.current = name
        return False


def _is_merge(item: Item) -> bool:
    """`add` and `concat`: a disabled one passes on its first input, as a residual switched off leaves
    the main path (torchvision's `use_res_connect`)."""
    return item.kind == "op" and item.op in OPS and isinstance(OPS[item.op].arity, tuple)


def _method_problem(module: Module, source: str, target: str) -> str | None:
    """Why forward has no part that leads from `source` alone to `target`, or None if it has one."""
    if source == target:
        return f"it would run from '{source}' to '{source}', which is nothing"
    reached, seen, stack = False, set(), [target]
    while stack:
        name = stack.pop()
        if name == source:
            reached = True
            continue
        if name in seen:
            continue
        seen.add(name)
        found = module.output_of(name)
        node = module.node(name) if found is None else found[0]
        if node is None:  # an input of the network, read without passing through `source`
            return f"'{target}' also reads '{name}', not only what comes from '{source}'"
        stack.extend(module.value(input_name) for input_name in node.inputs)
    return None if reached else f"'{target}' does not depend on '{source}'"
