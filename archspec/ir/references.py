"""Lowering, the names: what each layer is called (given, interpolated or generated) and what
a `from` reference points at. `lower._Lowering` combines this part with the others."""

from __future__ import annotations

import re
from typing import Any

from ..errors import Span, SpecError, did_you_mean
from ..names import attribute_problem, is_python_name, is_sequence_key
from ..ops import OPS, Op
from ..spec.model import Item
from ..spec.values import evaluate_text
from ..spec.yaml_source import YamlList
from .graph import Node
from .scope import LoweringParts, PREVIOUS, Scope

_INTERPOLATION = re.compile(r"\{([^{}]*)\}")


class References(LoweringParts):
    """The naming and reference rules of the lowering pass."""


    def item_name(self, item: Item, scope: Scope, env: dict[str, Any]) -> str:
        module = scope.module
        if item.name is None:
            if scope.in_sequence:
                return str(len(module.nodes))
            return self.auto_name(item, scope)
        span = item.attrs.value_span("name")
        if not isinstance(item.name, (str, int)) or isinstance(item.name, bool):
            raise SpecError.at(span, f"'name' must be a string, got {item.name!r}")
        name = self.interpolate(str(item.name), env, span)
        # In a seq a name is only a key of its nn.Sequential: `3`, or `block1-0`, needs to be no identifier.
        key_only = scope.in_sequence and is_sequence_key(name) and not is_python_name(name)
        problem = None if key_only else name_problem(name, scope)
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

    def auto_name(self, item: Item, scope: Scope) -> str:
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

    def inputs(self, item: Item, scope: Scope, env: dict[str, Any]) -> list[str]:
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
        if scope.in_sequence:
            raise SpecError.at(span, "inside a 'seq' each layer reads the previous one; 'from' is not allowed",
                               hint="define a block for layers that branch or merge")
        refs = [raw] if isinstance(raw, str) else raw
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) for r in refs):
            raise SpecError.at(span, "'from' is a layer name or a list of layer names")
        spans = raw.spans if isinstance(raw, YamlList) else [span] * len(refs)
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

    def reference(self, ref: str, scope: Scope, span: Span) -> str:
        module = scope.module
        node = module.node(ref)
        if ref in module.inputs or node is not None or ref in module.aliases or module.output_of(ref):
            return ref
        head = module.node(module.value(ref.rsplit(".", 1)[0])) if "." in ref else None
        if head is not None and head.errors:
            return ref  # one output of a layer that failed, already reported: no second error
        later = self.defined_later(ref, scope)
        if later:
            raise SpecError.at(span, f"'{ref}' is defined later (line {later.line}); a layer can only read "
                               "earlier outputs", hint="reorder the layers; references cannot form a cycle")
        known = list(module.inputs) + [n.name for n in module.nodes] + list(module.aliases)
        raise SpecError.at(span, f"unknown layer '{ref}'", did_you_mean(ref, known) or
                           (f"names defined so far: {', '.join(known[-8:])}" if known else None))

    def expand(self, refs: list[str], item: Item, scope: Scope) -> list[str]:
        """A block or group reading a layer with several outputs receives all of them, in order."""
        if item.kind not in ("block", "group"):
            return refs
        expanded = []
        for ref in refs:
            node = scope.module.node(scope.module.value(ref))
            keys = node.output_names() if node is not None else None
            if keys is not None:  # a layer with several outputs
                expanded += [f"{ref}.{key}" for key in keys]
            else:
                expanded.append(ref)
        return expanded

    def check_single_output(self, node: Node, span: Span) -> None:
        keys = node.output_names()
        if keys is not None:
            raise SpecError.at(span, f"'{node.name}' has {len(keys)} outputs; a layer cannot read it as one "
                               "tensor", hint=f"read one of them: {', '.join(f'{node.name}.{k}' for k in keys)}")

    def defined_later(self, ref: str, scope: Scope) -> Span | None:
        body = scope.block.body if scope.block else self.spec.body
        for item in _walk(body):
            if item.name == ref:
                return item.attrs.value_span("name")
        return None


def name_problem(name: str, scope: Scope) -> str | None:
    """Why a layer name cannot be an attribute. `list.3` or `dict.key` puts the layer in an nn.ModuleList
    (or nn.ModuleDict) called `list`, as torchvision's FPN keeps its `inner_blocks`."""
    members = scope.module.members(name.partition(".")[0])
    if "." not in name:
        return f"'{name}' already holds '{members[0]}'" if members else attribute_problem(name)
    if scope.in_sequence:
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


def _has_params(op: Op) -> bool:
    """Whether an op owns weights for some attribute values (used to pick conv1-style auto names)."""
    return any(a.inferred for a in op.attrs.values())


def _walk(items: list[Item]):
    for item in items:
        yield item
        yield from _walk(item.body)
