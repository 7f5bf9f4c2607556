"""Lowering: a ResolvedSpec becomes the graph IR.

Walks the spec's body in order, evaluating expressions, expanding blocks,
`seq` and `repeat`, resolving `from` references, and inferring each node's
output shape at the spec's default input size. Input-dependent attributes
(a conv's input channels, a linear layer's input features) are fixed here, as
a constructor argument fixes them in PyTorch; `passes.shapes` re-checks them
for any other input size.

Problems are collected, not raised one at a time: a node that fails gets no
shape, and nodes that read it skip their checks, so one mistake gives one error.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import Diagnostics, Span, SpecError, did_you_mean
from ..names import attribute_problem, is_python_name, module_name_problem
from ..ops import OPS, Op, Shape, ShapeError
from ..spec.model import CONTAINERS, ITEM_KEYS, BlockDef, Item, ResolvedSpec, Value
from ..spec.values import bind, evaluate_text, typed_value
from ..spec.yaml_source import Map, Seq
from .graph import Method, Module, Network, Node, lint

MAX_NODES = 100_000  # layers and repeat passes; lowering costs tens of microseconds per layer
MAX_BLOCK_DEPTH = 32
PREVIOUS = "_"  # in `from`: the previous layer's output
_INTERPOLATION = re.compile(r"\{([^{}]*)\}")


@dataclass
class _Scope:
    """Where items are being added: a module, its defaults, and the value the next item reads."""

    module: Module
    defaults: dict[str, dict[str, Value]]
    sequential: bool
    block: BlockDef | None = None
    current: str | None = None
    spans: dict[str, Span] = field(default_factory=dict)  # name -> where it was defined
    counters: dict[str, int] = field(default_factory=dict)  # next index to try for auto names
    naming: tuple[Item, str] | None = None  # the item being lowered and its name, for a stand-in if it fails


class _TooLarge(Exception):
    """The network passed a size limit: lowering stops at once instead of collecting one error per layer."""

    def __init__(self, error: SpecError):
        super().__init__(str(error))
        self.error = error


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
    try:
        network = _Lowering(spec, diagnostics).network()
    except _TooLarge as stop:
        diagnostics.extend(stop.error)
        raise SpecError(diagnostics.errors) from None
    network.warnings = diagnostics.warnings
    return network, diagnostics


def spec_hash(spec: ResolvedSpec) -> str:
    """sha256 of the resolved spec in a canonical form (key order in mappings does not matter)."""
    blocks = {name: {"params": {p: [d.type, d.default] for p, d in b.params.items()}, "body": _raw_items(b.body),
                     "inputs": b.inputs, "outputs": b.outputs, "class": b.class_name,
                     "defaults": {op: {k: v.value for k, v in attrs.items()} for op, attrs in b.defaults.items()}}
              for name, b in spec.blocks.items()}
    canonical = {
        "name": spec.name.value, "class": spec.class_name.value, "input": spec.input.value,
        "params": {k: v.value for k, v in spec.params.items()},
        "defaults": {op: {k: v.value for k, v in attrs.items()} for op, attrs in spec.defaults.items()},
        "blocks": blocks, "body": _raw_items(spec.body),
        "outputs": spec.outputs.value if spec.outputs else None,
    }
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _raw_items(items: list[Item]) -> list[Any]:
    return [{"op": item.op, "attrs": {k: v for k, v in item.attrs.items() if k != "body"},
             "body": _raw_items(item.body)} for item in items]


class _Lowering:
    def __init__(self, spec: ResolvedSpec, diagnostics: Diagnostics):
        self.spec = spec
        self.diagnostics = diagnostics
        self.node_count = 0
        self.group_classes: dict[str, str] = {}  # class name -> what it is the class of
        self.repeat_steps = 0
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
        scope = _Scope(module=root, defaults=spec.defaults, sequential=False, current="input")
        self.body(spec.body, scope, spec.param_env())
        self.set_outputs(root, scope, spec.outputs.value if spec.outputs else None,
                         spec.outputs.span if spec.outputs else spec.body_span)
        self.check_module_lists(root)
        methods = self.methods(spec, scope)
        network = Network(name=spec.name.value, root=root, input_shape=shape, spec_path=spec.path,
                          spec_hash=spec_hash(spec), doc=spec.doc, blocks=spec.blocks,
                          name_span=spec.name.span, class_span=spec.class_name.span, methods=methods)
        choose_inplace(network)
        return network

    def methods(self, spec: ResolvedSpec, scope: _Scope) -> list[Method]:
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

    def set_outputs(self, module: Module, scope: _Scope, raw: Any, span: Span) -> None:
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
        if len(outputs) == 1 and keys is None and module.is_multi(outputs[0]):
            node = module.node(module.value(outputs[0]))
            keys = node.child.output_keys
            outputs = [f"{outputs[0]}.{key}" for key in node.child.output_names()]
        elif any(module.is_multi(name) for name in outputs):
            self.diagnostics.error(span, "an output that has several outputs itself must be the only one",
                                   hint="name its outputs one by one, e.g. fpn.0")
        module.outputs, module.output_keys = outputs, keys

    # ------------------------------------------------------------ bodies and items

    def body(self, items: list[Item], scope: _Scope, env: dict[str, Any]) -> None:
        if not items and (scope.block is not None or scope.sequential) and scope.module.kind != "network":
            self.diagnostics.error(scope.module.span, f"'{scope.module.path}' has an empty body",
                                   hint="list at least one layer")
        for item in items:
            try:
                self.item(item, scope, env)
            except SpecError as error:
                self.diagnostics.extend(error)
                self.placeholder(item, scope, env, error)

    def placeholder(self, item: Item, scope: _Scope, env: dict[str, Any], error: SpecError) -> None:
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

    def item(self, item: Item, scope: _Scope, env: dict[str, Any]) -> None:
        if item.condition is not None and scope.block is not None and not scope.sequential and item.name is None:
            raise SpecError.at(item.attrs.key_span("if"), "a layer with 'if' inside a block needs a 'name'",
                               hint="later layers refer to it by that name; when disabled it passes its input on")
        if item.share is not None and scope.sequential:
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
            node = self.shared(item, scope, name, inputs)
        elif item.kind == "op":
            node = self.op_node(item, scope, env, name, inputs)
        elif item.kind == "seq":
            node = self.seq_node(item, scope, env, name, inputs)
        elif item.kind == "group":
            node = self.group_node(item, scope, env, name, inputs)
        else:
            node = self.block_node(item, scope, env, name, inputs)
        scope.module.add(node)
        scope.spans[node.name] = item.span
        scope.current = node.name

    def count_node(self, item: Item) -> None:
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise _TooLarge(SpecError.at(item.span, f"the network has more than {MAX_NODES} layers",
                                         hint="check the repeat counts"))

    def count_steps(self, item: Item, steps: int) -> None:
        """Count the passes of a repeat's body before running them: bounds the work even where a body adds
        no layers, and refuses a huge count at once rather than after building the limit's worth of layers."""
        self.repeat_steps += steps
        if self.repeat_steps > MAX_NODES:
            raise _TooLarge(SpecError.at(item.attrs.value_span("count"), f"the repeats run their bodies more "
                                         f"than {MAX_NODES} times", hint="check the repeat counts"))

    def enabled(self, item: Item, scope: _Scope, env: dict[str, Any]) -> bool:
        span = item.attrs.value_span("if")
        enabled = typed_value(item.condition, "bool", env, span, "'if'")
        if enabled:
            return True
        if item.name is not None and not scope.sequential:
            inputs = self.inputs(item, scope, env)
            if len(inputs) != 1:
                raise SpecError.at(span, "only a layer with one input can be disabled with 'if'")
            name = self.item_name(item, scope, env)
            scope.module.aliases[name] = inputs[0]
            scope.spans[name] = item.span
            # The next layer reads it by name, so every instance of a block has the same dataflow.
            scope.current = name
        return False

    # ------------------------------------------------------------ names and references

    def item_name(self, item: Item, scope: _Scope, env: dict[str, Any]) -> str | None:
        module = scope.module
        if item.name is None:
            if scope.sequential:
                return str(len(module.nodes))
            return self.auto_name(item, scope)
        span = item.attrs.value_span("name")
        if not isinstance(item.name, (str, int)) or isinstance(item.name, bool):
            raise SpecError.at(span, f"'name' must be a string, got {item.name!r}")
        name = self.interpolate(str(item.name), env, span)
        problem = None if (scope.sequential and name.isascii() and name.isdigit()) else _name_problem(name, scope)
        if name == PREVIOUS:
            problem = "'_' stands for the previous layer's output in 'from'"
        if problem:
            raise SpecError.at(span, f"invalid name: {problem}", hint="names become attribute names in the "
                               "generated PyTorch code; use letters, digits and underscores")
        if name in module.inputs:
            raise SpecError.at(span, f"'{name}' is already the name of this scope's input")
        if module.node(name) is not None or name in module.aliases:
            first = scope.spans.get(name)
            if first == item.span and self.repeats:
                index = self.repeats[-1].var
                raise SpecError.at(span, f"duplicate name '{name}': every copy made by the repeat gets it",
                                   hint=f"put the index in the name, e.g. name: \"{name}{{{index}}}\"")
            where = f" (first defined at line {first.line})" if first else ""
            raise SpecError.at(span, f"duplicate name '{name}'{where}",
                               hint="names must be unique within a block or the network")
        return name

    def auto_name(self, item: Item, scope: _Scope) -> str:
        """conv1, conv2 … for layers with weights; relu, relu2 … for those without."""
        module = scope.module

        def taken(name: str) -> bool:
            return module.node(name) is not None or name in module.aliases or name in module.inputs

        base = item.op.lstrip("$")
        stateful = item.kind != "op" or _has_params(OPS[item.op])
        if not stateful and not taken(base):
            return base
        index = scope.counters.get(base, 1 if stateful else 2)
        while taken(f"{base}{index}"):
            index += 1
        scope.counters[base] = index + 1
        return f"{base}{index}"

    def interpolate(self, text: str, env: dict[str, Any], span: Span) -> str:
        def replace(match: re.Match) -> str:
            value = evaluate_text(match.group(1), env, span)
            return str(value)
        return _INTERPOLATION.sub(replace, text)

    def inputs(self, item: Item, scope: _Scope, env: dict[str, Any]) -> list[str]:
        """The values a layer reads: `from` (names, `_` for the previous layer's output, `{expr}` parts
        evaluated), or the previous layer's output."""
        raw = item.inputs
        span = item.attrs.value_span("from") if "from" in item.attrs else item.span
        if raw is None:
            if scope.current is None:
                raise SpecError.at(item.span, "this layer has no input", hint="add 'from: <name>'")
            previous = scope.module.node(scope.module.value(scope.current))
            if previous is not None and item.kind not in ("block", "group"):
                self.check_single_output(previous, item.span)
            return self.expand([scope.current], item, scope)
        if scope.sequential:
            raise SpecError.at(span, "inside a 'seq' each layer reads the previous one; 'from' is not allowed",
                               hint="define a block for layers that branch or merge")
        refs = [raw] if isinstance(raw, str) else raw
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise SpecError.at(span, "'from' is a layer name or a list of layer names")
        spans = raw.spans if isinstance(raw, Seq) else [span] * len(refs)
        resolved = []
        for ref, ref_span in zip(refs, spans):
            if ref == PREVIOUS:
                if scope.current is None:
                    raise SpecError.at(ref_span, "'_' is the previous layer's output, and there is none yet")
                resolved.append(self.reference(scope.current, scope, ref_span))
            else:
                resolved.append(self.reference(self.interpolate(ref, env, ref_span), scope, ref_span))
        if item.kind not in ("block", "group"):
            for ref, ref_span in zip(resolved, spans):
                node = scope.module.node(scope.module.value(ref))
                if node is not None:
                    self.check_single_output(node, ref_span)
        return self.expand(resolved, item, scope)

    def reference(self, ref: str, scope: _Scope, span: Span) -> str:
        module = scope.module
        node = module.node(ref)
        if ref in module.inputs or node is not None or ref in module.aliases or module.output_of(ref):
            return ref
        later = self.defined_later(ref, scope)
        if later:
            raise SpecError.at(span, f"'{ref}' is defined later (line {later.line}); a layer can only read "
                               "earlier outputs", hint="reorder the layers; references cannot form a cycle")
        known = list(module.inputs) + [n.name for n in module.nodes] + list(module.aliases)
        raise SpecError.at(span, f"unknown layer '{ref}'", did_you_mean(ref, known) or
                           (f"names defined so far: {', '.join(known[-8:])}" if known else None))

    def expand(self, refs: list[str], item: Item, scope: _Scope) -> list[str]:
        """A block or group reading a layer with several outputs receives all of them, in order."""
        if item.kind not in ("block", "group"):
            return refs
        expanded = []
        for ref in refs:
            node = scope.module.node(scope.module.value(ref))
            if scope.module.is_multi(ref):
                expanded += [f"{ref}.{key}" for key in node.child.output_names()]
            else:
                expanded.append(ref)
        return expanded

    def check_single_output(self, node: Node, span: Span) -> None:
        if node.is_call and node.child is not None and len(node.child.outputs) > 1:
            keys = node.child.output_names()
            raise SpecError.at(span, f"'{node.name}' has {len(keys)} outputs; a layer cannot read it as one "
                               "tensor", hint=f"read one of them: {', '.join(f'{node.name}.{k}' for k in keys)}")

    def defined_later(self, ref: str, scope: _Scope) -> Span | None:
        body = scope.block.body if scope.block else self.spec.body
        for item in _walk(body):
            if item.name == ref:
                return item.attrs.value_span("name")
        return None

    # ------------------------------------------------------------ ops

    def op_node(self, item: Item, scope: _Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        op = OPS[item.op]
        self.check_arity(op, item, inputs)
        attrs, origins = self.op_attrs(item, op, scope, env)
        if attrs.get("indices") and scope.sequential:
            raise SpecError.at(item.attrs.key_span("indices"), "a max-pool that returns its indices cannot be "
                               "part of a 'seq': the next layer would get the indices too",
                               hint="put the pool in a block or the network body, where a maxunpool can read it")
        node = Node(name=name, op=op.name, attrs=attrs, inputs=inputs, span=item.span, item=item,
                    origins=origins)
        if op.reads_indices is not None:
            producer = scope.module.node(scope.module.value(inputs[op.reads_indices]))
            try:
                op.link(attrs, producer)
            except ShapeError as error:
                raise SpecError.at(item.span, error.about(op.name, _join(scope.module.path, name)),
                                   error.hint) from None
        shapes = [scope.module.value_shape(source) for source in inputs]
        if all(shape is not None for shape in shapes):
            node.shape = self.infer(op, node, shapes, scope)
        return node

    def check_arity(self, op: Op, item: Item, inputs: list[str]) -> None:
        arity = op.arity
        if isinstance(arity, int) and len(inputs) != arity:
            raise SpecError.at(item.span, f"'{op.name}' takes {arity} input{'s' if arity > 1 else ''}, "
                               f"got {len(inputs)}")
        if isinstance(arity, tuple) and len(inputs) < arity[0]:
            raise SpecError.at(item.span, f"'{op.name}' merges at least {arity[0]} inputs, got {len(inputs)}",
                               hint="list them with 'from: [a, b]'")

    def op_attrs(self, item: Item, op: Op, scope: _Scope, env: dict[str, Any]
                 ) -> tuple[dict[str, Any], dict[str, Span | str]]:
        given = {k: v for k, v in item.attrs.items() if k not in ITEM_KEYS}
        problems = []
        misspelled = set()  # attributes a misspelling was meant to set: not reported missing as well
        for key in given:
            if key not in op.attrs:
                hint = did_you_mean(key, list(op.attrs) + list(ITEM_KEYS))
                if hint:
                    misspelled.add(hint.split("'")[1])
                hint = hint or (f"'{op.name}' takes: {', '.join(op.attrs)}" if op.attrs
                                else f"'{op.name}' takes no attributes")
                problems.append(SpecError.at(item.attrs.key_span(key), f"'{op.name}' has no attribute '{key}'",
                                             hint))
        attrs: dict[str, Any] = {}
        origins: dict[str, Span | str] = {}
        defaults = scope.defaults.get(op.name, {})
        for attr_name, attr in op.attrs.items():
            if attr_name in given:
                raw, span = given[attr_name], item.attrs.value_span(attr_name)
            elif attr_name in defaults:
                raw, span = defaults[attr_name].value, defaults[attr_name].span
            elif attr.inferred:
                continue
            elif attr.required:
                if attr_name in misspelled:
                    continue
                problems.append(SpecError.at(item.span, f"'{op.name}' needs '{attr_name}'"
                                             + (f" ({attr.doc})" if attr.doc else "")))
                continue
            else:
                attrs[attr_name] = _normalise_default(attr.kind, attr.default)
                origins[attr_name] = "op default"
                continue
            try:
                if attr_name == "padding":
                    _refuse_padding_mode(op, raw, env, span, attrs.get("kernel"))
                attrs[attr_name] = typed_value(raw, attr.kind, env, span, f"'{attr_name}' of {op.name}",
                                               attr.minimum, attr.maximum)
                if attr.choices and attrs[attr_name] not in attr.choices:
                    raise SpecError.at(span, f"'{attr_name}' of {op.name} is one of {', '.join(attr.choices)}; "
                                       f"got {attrs[attr_name]!r}", did_you_mean(attrs[attr_name], attr.choices))
                origins[attr_name] = span
            except SpecError as error:
                problems.append(error)
        if problems:
            raise SpecError([d for error in problems for d in error.diagnostics])
        return op.resolve_auto(attrs), origins

    def infer(self, op: Op, node: Node, shapes: list[Shape], scope: _Scope) -> Shape | None:
        try:
            op.complete(node.attrs, shapes)
            missing = [a for a, spec in op.attrs.items() if spec.inferred and a not in node.attrs]
            if missing:
                raise ShapeError(f"cannot infer '{missing[0]}' from an input of shape "
                                 f"{'x'.join(map(str, shapes[0]))}")
            return op.infer(node.attrs, shapes)
        except ShapeError as error:
            path = _join(scope.module.path, node.name)
            if error.rank == 3 and len(self.input_shape) not in (1, 3) and shapes[0] == self.input_shape:
                raise self.input_not_a_feature_map(f"{op.name} '{path}' (line {node.span.line})") from None
            message = error.about(op.name, path)
            if len(node.inputs) > 1:  # a merge: say which tensors disagree
                message += " (" + ", ".join(f"'{source}' is {'x'.join(map(str, shape))}"
                                            for source, shape in zip(node.inputs, shapes)) + ")"
            raise SpecError.at(node.span, message, error.hint) from None

    def input_not_a_feature_map(self, reader: str) -> SpecError:
        """A feature-map op reads the network's input, whose shape no op could have made one: the mistake is
        the `input` (a greyscale [28, 28]), so that is where the error points."""
        shape = list(self.input_shape)
        hint = f"{reader} reads it as a feature map"
        if len(shape) == 2:
            hint += f"; an image with one channel is [1, {shape[0]}, {shape[1]}]"
        return SpecError.at(self.spec.input.span, f"'input' must be [channels, height, width], got {shape}", hint)

    # ------------------------------------------------------------ containers

    def seq_node(self, item: Item, scope: _Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        if len(inputs) != 1:
            raise SpecError.at(item.span, "a 'seq' takes one input")
        child = self.new_sequence(item, scope, name, inputs)
        self.body(item.body, _Scope(module=child, defaults=scope.defaults, sequential=True, block=scope.block,
                                    current="input"), env)
        return self.finish_container(item, child, name, inputs)

    def new_sequence(self, item: Item, scope: _Scope, name: str, inputs: list[str]) -> Module:
        return Module(path=_join(scope.module.path, name), kind="sequential", class_name="Sequential",
                      span=item.span, inputs=["input"],
                      input_shapes=[scope.module.value_shape(inputs[0])])

    def check_module_lists(self, module: Module) -> None:
        """The members of a module list (`inner_blocks.0` …) are numbered 0 to n - 1, in any order."""
        lists: dict[str, list[Node]] = {}
        for node in module.nodes:
            head, _, key = node.name.partition(".")
            if key.isdigit():
                lists.setdefault(head, []).append(node)
        for head, members in lists.items():
            indices = sorted(int(node.name.partition(".")[2]) for node in members)
            if indices != list(range(len(indices))):
                missing = min(set(range(len(indices) + 1)) - set(indices))
                self.diagnostics.error(members[-1].span, f"module list '{head}' has no member {missing}",
                                       hint="number its members 0, 1, 2 … without gaps")

    def finish_container(self, item: Item, child: Module, name: str, inputs: list[str]) -> Node:
        self.check_module_lists(child)
        if not child.outputs:
            last = child.nodes[-1].name if child.nodes else "input"
            child.outputs = [last]
        shapes = child.output_shapes()
        return Node(name=name, op="call", attrs={}, inputs=inputs, span=item.span, child=child, item=item,
                    shape=shapes[0] if len(shapes) == 1 else None)

    def repeat(self, item: Item, scope: _Scope, env: dict[str, Any]) -> None:
        if item.condition is not None and not self.enabled(item, scope, env):
            return
        count = typed_value(item.count, "int", env, item.attrs.value_span("count"), "'count'", minimum=0)
        self.count_steps(item, count)
        if item.name is None:
            for index in range(count):
                self.lower_copy(item, scope, bind(env, item.var, index))
            return
        inputs = self.inputs(item, scope, env)
        name = self.item_name(item, scope, env)
        child = self.new_sequence(item, scope, name, inputs)
        inner = _Scope(module=child, defaults=scope.defaults, sequential=True, block=scope.block, current="input")
        for index in range(count):
            self.lower_copy(item, inner, bind(env, item.var, index))
        if count == 0:
            raise SpecError.at(item.attrs.value_span("count"), f"repeat '{name}' has count 0 and would be empty")
        node = self.finish_container(item, child, name, inputs)
        scope.module.add(node)
        scope.spans[name] = item.span
        scope.current = name

    def lower_copy(self, item: Item, scope: _Scope, env: Mapping[str, Any]) -> None:
        """One copy of a repeat's body; the repeats being lowered are known, for the hint of a duplicate name."""
        self.repeats.append(item)
        try:
            self.body(item.body, scope, env)
        finally:
            self.repeats.pop()

    def block_node(self, item: Item, scope: _Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        block = self.block_def(item, env)
        if block.name in self.block_stack:
            raise SpecError.at(item.span, f"block '{block.name}' uses itself",
                               hint="blocks cannot be recursive; use 'repeat'")
        if len(self.block_stack) >= MAX_BLOCK_DEPTH:
            raise SpecError.at(item.span, f"blocks are nested deeper than {MAX_BLOCK_DEPTH}")
        if len(inputs) != len(block.inputs):
            raise SpecError.at(item.span, f"block '{block.name}' takes {len(block.inputs)} input(s) "
                               f"({', '.join(block.inputs)}), got {len(inputs)}")
        args = self.block_args(item, block, env)
        shapes = [scope.module.value_shape(source) for source in inputs]
        child = Module(path=_join(scope.module.path, name), kind="block", class_name=block.class_name,
                       span=item.span, block=block.name, args=args, inputs=list(block.inputs),
                       input_shapes=shapes)
        if any(shape is None for shape in shapes):
            return Node(name=name, op="call", attrs={}, inputs=inputs, span=item.span, child=child, item=item)
        channels = [shape[0] for shape in shapes]
        child.args["in_channels"] = channels[0] if len(channels) == 1 else channels
        inner = _Scope(module=child, defaults=block.defaults, sequential=False, block=block,
                       current=block.inputs[0])
        self.block_stack.append(block.name)
        try:
            self.body(block.body, inner, {**args, "in_channels": child.args["in_channels"]})
        finally:
            self.block_stack.pop()
        self.set_outputs(child, inner, block.outputs, block.outputs_span or block.span)
        return self.finish_container(item, child, name, inputs)

    def group_node(self, item: Item, scope: _Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        """A named sub-network written in place: the enclosing parameters, its own class, several outputs."""
        class_name = item.attrs.get("class", _camel(name))
        if not isinstance(class_name, str) or not is_python_name(class_name):
            raise SpecError.at(item.attrs.value_span("class"), f"class name {class_name!r} is not a valid identifier")
        if class_name == self.spec.name.value:
            problem = f"'{class_name}' is the spec's name, which names the factory function"
        else:
            problem = module_name_problem(class_name)
        if problem:
            raise SpecError.at(item.attrs.value_span("class") if "class" in item.attrs else item.span,
                               f"class name {problem}", hint="give the group another 'class'")
        taken = {self.spec.class_name.value: "the network", **{b.class_name: f"block '{b.name}'"
                                                               for b in self.spec.blocks.values()},
                 **self.group_classes}
        if class_name in taken:
            raise SpecError.at(item.attrs.value_span("class") if "class" in item.attrs else item.span,
                               f"class name '{class_name}' is already the class of {taken[class_name]}",
                               hint="give the group another 'class'")
        self.group_classes[class_name] = f"group '{name}'"
        names = item.attrs.get("inputs", ["input"])
        names = [names] if isinstance(names, str) else names
        if not isinstance(names, list) or not all(isinstance(n, str) and is_python_name(n) for n in names) or \
                len(set(names)) != len(names):
            raise SpecError.at(item.attrs.value_span("inputs"), "'inputs' is a list of distinct input names")
        if len(inputs) != len(names):
            raise SpecError.at(item.span, f"group '{name}' takes {len(names)} input(s) ({', '.join(names)}), "
                               f"got {len(inputs)}")
        child = Module(path=_join(scope.module.path, name), kind="group", class_name=class_name, span=item.span,
                       inputs=list(names), input_shapes=[scope.module.value_shape(i) for i in inputs])
        inner = _Scope(module=child, defaults=scope.defaults, sequential=False, block=scope.block, current=names[0])
        self.body(item.body, inner, env)
        self.set_outputs(child, inner, item.attrs.get("outputs"), item.attrs.value_span("outputs"))
        return self.finish_container(item, child, name, inputs)

    def block_def(self, item: Item, env: Mapping[str, Any]) -> BlockDef:
        name = item.op
        if name.startswith("$"):
            return self.chosen_block(item, env)
        block = self.spec.blocks.get(name)
        if block is None:
            known = list(OPS) + list(self.spec.blocks) + list(CONTAINERS)
            raise SpecError.at(item.span, f"unknown op or block '{name}'", did_you_mean(name, known) or
                               "ops: " + ", ".join(sorted(OPS)))
        return block

    def chosen_block(self, item: Item, env: Mapping[str, Any]) -> BlockDef:
        """The block that a `$param` item names through the value of a parameter. A wrong value is reported
        where it is set (a variant's params), since that is where it is fixed."""
        param = item.op[1:]
        if param not in env:
            example = next(iter(self.spec.blocks), "basic")
            raise SpecError.at(item.span, f"unknown parameter '{param}' in '{item.op}'", did_you_mean(param, env)
                               or f"declare it under 'params', e.g. {param}: {example}")
        value = env[param]
        origin = getattr(env, "origins", {}).get(param)
        used = f"'{item.op}' at {item.span.file}:{item.span.line}"
        if not isinstance(value, str):
            raise SpecError.at(origin or item.span, f"parameter '{param}' should hold a block name for {used}; "
                               f"it is {value!r}")
        block = self.spec.blocks.get(value)
        if block is None:
            raise SpecError.at(origin or item.span, f"parameter '{param}' names an unknown block '{value}'",
                               (did_you_mean(value, self.spec.blocks) or "blocks: " + (", ".join(self.spec.blocks)
                                                                                        or "none defined"))
                               + f" (used by {used})")
        return block

    def block_args(self, item: Item, block: BlockDef, env: dict[str, Any]) -> dict[str, Any]:
        given = {k: v for k, v in item.attrs.items() if k not in ITEM_KEYS}
        problems, args = [], {}
        for key in given:
            if key not in block.params:
                hint = did_you_mean(key, list(block.params) + list(ITEM_KEYS)) or (
                    f"block '{block.name}' takes: {', '.join(block.params) or 'no parameters'}")
                problems.append(SpecError.at(item.attrs.key_span(key), f"block '{block.name}' has no parameter "
                                             f"'{key}'", hint))
        for param in block.params.values():
            if param.name in given:
                try:
                    args[param.name] = typed_value(given[param.name], param.type, env,
                                                   item.attrs.value_span(param.name), f"'{param.name}'")
                except SpecError as error:
                    problems.append(error)
            elif param.required:
                problems.append(SpecError.at(item.span, f"block '{block.name}' needs parameter '{param.name}' "
                                             f"({param.type})"))
            else:
                args[param.name] = param.default
        if problems:
            raise SpecError([d for error in problems for d in error.diagnostics])
        return args

    def shared(self, item: Item, scope: _Scope, name: str, inputs: list[str]) -> Node:
        span = item.attrs.value_span("share")
        owner = scope.module.node(item.share)
        if owner is None or owner.shares is not None:
            raise SpecError.at(span, f"'share' must name an earlier layer that owns weights; "
                               f"'{item.share}' is not one", did_you_mean(item.share, [n.name for n in
                                                                                   scope.module.nodes]))
        extra = [k for k in item.attrs if k not in ITEM_KEYS]
        if extra:
            raise SpecError.at(item.attrs.key_span(extra[0]), "a layer that shares weights takes its attributes "
                               f"from '{owner.name}'; remove '{extra[0]}'")
        owner_kind = owner.item.op if owner.item else owner.op
        if owner_kind != item.op:
            raise SpecError.at(item.span, f"'{item.op}' cannot share the weights of '{owner.name}', "
                               f"which is a '{owner_kind}'")
        from ..passes.shapes import module_output_shapes

        node = Node(name=name, op=owner.op, attrs=owner.attrs, inputs=inputs, span=item.span,
                    child=owner.child, shares=owner.name, item=item, origins=owner.origins)
        shapes = [scope.module.value_shape(source) for source in inputs]
        if any(shape is None for shape in shapes):
            return node
        try:
            if node.is_call:
                outputs = module_output_shapes(owner.child, shapes)
                node.shape = outputs[0] if len(outputs) == 1 else None
            else:
                node.shape = OPS[owner.op].infer(owner.attrs, shapes)
        except SpecError:
            raise
        except ShapeError as error:
            raise SpecError.at(item.span, f"'{name}' shares '{owner.name}' but {error.message}", error.hint)
        return node


def _name_problem(name: str, scope: _Scope) -> str | None:
    """Why a layer name cannot be an attribute. `list.3` or `dict.key` puts the layer in an nn.ModuleList
    (or nn.ModuleDict) called `list`, as torchvision's FPN keeps its `inner_blocks`."""
    members = [n.name for n in scope.module.nodes if n.name.startswith(f"{name.partition('.')[0]}.")]
    if "." not in name:
        return f"'{name}' already holds '{members[0]}'" if members else attribute_problem(name)
    if scope.sequential:
        return f"'{name}' has a dot, which a layer of a 'seq' cannot have"
    head, _, key = name.partition(".")
    if not key or "." in key or not (key.isascii() and (key.isdigit() or key.isidentifier())):
        return f"'{name}' must be 'container.index' or 'container.key', with one dot"
    if scope.module.node(head) is not None:
        return f"'{head}' is already a layer, so it cannot also hold '{name}'"
    keys = [member.partition(".")[2] for member in members]
    if keys and key.isdigit() != keys[0].isdigit():
        return f"'{head}' mixes indices and keys ('{members[0]}' and '{name}')"
    return attribute_problem(head) or (attribute_problem(key) if not key.isdigit() else None)


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_") if part) or "Group"


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


def _has_params(op: Op) -> bool:
    """Whether an op owns weights for some attribute values (used to pick conv1-style auto names)."""
    return any(a.inferred for a in op.attrs.values())


def _refuse_padding_mode(op: Op, raw: Any, env: Mapping[str, Any], span: Span, kernel: Any) -> None:
    """PyTorch's `padding='same'` and `'valid'`: archspec takes a number of pixels, so say which."""
    mode = raw.strip() if isinstance(raw, str) else None
    if mode not in ("same", "valid") or mode in env:
        return
    if mode == "valid":
        hint = "'valid' padding is padding: 0, the default"
    elif isinstance(kernel, tuple) and all(k % 2 for k in kernel):
        size = kernel[0] // 2 if kernel[0] == kernel[1] else f"[{kernel[0] // 2}, {kernel[1] // 2}]"
        hint = f"padding: {size} keeps the input's size for a {kernel[0]}x{kernel[1]} kernel at stride 1"
    else:
        hint = "padding: kernel // 2 keeps the input's size for an odd kernel at stride 1"
    raise SpecError.at(span, f"'padding' of {op.name} must be an integer or a pair [h, w]; "
                             f"'{mode}' padding is not supported", hint)


def _normalise_default(kind: str, value: Any) -> Any:
    if kind == "pair" and isinstance(value, int):
        return (value, value)
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _walk(items: list[Item]):
    for item in items:
        yield item
        yield from _walk(item.body)


# ------------------------------------------------------------ in-place activations

# Ops whose output autograd does not keep, so an in-place activation may overwrite it.
_OVERWRITABLE = {"conv", "conv_transpose", "bn", "linear", "add", "concat", "maxpool", "avgpool",
                 "adaptive_avgpool", "adaptive_maxpool"}


def choose_inplace(network: Network) -> None:
    """Make activations in-place where nothing else reads their input, as torchvision writes them.

    An in-place ReLU overwrites its input, so it is safe only when the input is
    produced in the same module by an op that autograd does not need the
    output of, and no other layer (or output) reads it.
    """
    for module in network.modules():
        readers: dict[str, int] = {}
        for node in module.nodes:
            for source in node.inputs:
                value = module.value(source)
                readers[value] = readers.get(value, 0) + 1
        for output in module.outputs:
            readers[module.value(output)] = readers.get(module.value(output), 0) + 1
        shared = {node.shares for node in module.nodes if node.shares is not None}
        for node in module.nodes:
            op = OPS.get(node.op)
            if op is None or op.group != "activation" or node.origins.get("inplace") != "op default":
                continue
            if node.shares is not None or node.name in shared:
                continue
            source = module.value(node.inputs[0])
            producer = module.node(source)
            if producer is not None and producer.op in _OVERWRITABLE and readers.get(source) == 1:
                node.attrs["inplace"] = True
                node.origins["inplace"] = "in-place: nothing else reads the input"
