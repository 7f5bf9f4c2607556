"""Lowering, the layers: an op item becomes a node, its attributes typed, defaulted, completed from
its input and its shape inferred. `lower._Lowering` combines this part with the others."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import Span, SpecError, did_you_mean
from ..ops import OPS, Op, Shape, ShapeError
from ..spec.model import ITEM_KEYS, Item
from ..spec.values import typed_value
from .graph import Node, all_known
from .scope import LoweringParts, Scope, join_path


class OpNodes(LoweringParts):
    """The op rules of the lowering pass."""


    def op_node(self, item: Item, scope: Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        op = OPS[item.op]
        self.check_arity(op, item, inputs)
        attrs, origins = self.op_attrs(item, op, scope, env)
        if attrs.get("indices") and scope.in_sequence:
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
                raise SpecError.at(item.span, error.about(op.name, join_path(scope.module.path, name)),
                                   error.hint) from None
        shapes = all_known([scope.module.value_shape(source) for source in inputs])
        if shapes is not None:
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

    def op_attrs(self, item: Item, op: Op, scope: Scope, env: dict[str, Any]
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
                                               attr.minimum, attr.maximum, attr.above)
                if attr.choices and attrs[attr_name] not in attr.choices:
                    raise SpecError.at(span, f"'{attr_name}' of {op.name} is one of {', '.join(attr.choices)}; "
                                       f"got {attrs[attr_name]!r}", did_you_mean(attrs[attr_name], attr.choices))
                origins[attr_name] = span
            except SpecError as error:
                problems.append(error)
        if problems:
            raise SpecError([d for error in problems for d in error.diagnostics])
        return op.resolve_auto(attrs), origins

    def infer(self, op: Op, node: Node, shapes: list[Shape], scope: Scope) -> Shape | None:
        try:
            op.complete(node.attrs, shapes)
            missing = [a for a, spec in op.attrs.items() if spec.inferred and a not in node.attrs]
            if missing:
                raise ShapeError(f"cannot infer '{missing[0]}' from an input of shape "
                                 f"{'x'.join(map(str, shapes[0]))}")
            return op.infer(node.attrs, shapes)
        except ShapeError as error:
            path = join_path(scope.module.path, node.name)
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
