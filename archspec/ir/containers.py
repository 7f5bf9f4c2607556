"""Lowering, the containers: `seq`, `repeat`, block instances, groups and shared weights, each a
module of its own. `lower._Lowering` combines this part with the others."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import Diagnostics, SpecError, did_you_mean
from ..names import is_python_name, module_name_problem
from ..ops import OPS, ShapeError
from ..spec.model import CONTAINERS, ITEM_KEYS, BlockDef, Item
from ..spec.values import bind, typed_value
from .graph import Module, Node, all_known
from .scope import LoweringParts, Scope, join_path

MAX_BLOCK_DEPTH = 32


class Containers(LoweringParts):
    """The container rules of the lowering pass."""


    def seq_node(self, item: Item, scope: Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        if len(inputs) != 1:
            raise SpecError.at(item.span, "a 'seq' takes one input")
        child = self.new_sequence(item, scope, name, inputs)
        self.body(item.body, Scope(module=child, defaults=scope.defaults, in_sequence=True, block=scope.block,
                                    current="input"), env)
        return self.finish_container(item, child, name, inputs)

    def new_sequence(self, item: Item, scope: Scope, name: str, inputs: list[str]) -> Module:
        return Module(path=join_path(scope.module.path, name), kind="sequence", class_name="Sequential",
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

    def repeat(self, item: Item, scope: Scope, env: dict[str, Any]) -> None:
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
        inner = Scope(module=child, defaults=scope.defaults, in_sequence=True, block=scope.block, current="input")
        for index in range(count):
            self.lower_copy(item, inner, bind(env, item.var, index))
        if count == 0:
            raise SpecError.at(item.attrs.value_span("count"), f"repeat '{name}' has count 0 and would be empty")
        node = self.finish_container(item, child, name, inputs)
        scope.module.add(node)
        scope.spans[name] = item.span
        scope.current = name

    def lower_copy(self, item: Item, scope: Scope, env: dict[str, Any]) -> None:
        """One copy of a repeat's body; the repeats being lowered are known, for the hint of a duplicate name."""
        self.repeats.append(item)
        try:
            self.body(item.body, scope, env)
        finally:
            self.repeats.pop()

    def block_node(self, item: Item, scope: Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
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
        child = Module(path=join_path(scope.module.path, name), kind="block", class_name=block.class_name,
                       span=item.span, block=block.name, args=args, inputs=list(block.inputs),
                       input_shapes=shapes)
        known = all_known(shapes)
        if known is None:
            self.check_body_alone(block, child, args)
            return Node(name=name, op="call", attrs={}, inputs=inputs, span=item.span, child=child, item=item)
        channels = [shape[0] for shape in known]
        child.args["in_channels"] = channels[0] if len(channels) == 1 else channels
        inner = Scope(module=child, defaults=block.defaults, in_sequence=False, block=block,
                       current=block.inputs[0])
        self.block_stack.append(block.name)
        outer_repeats, self.repeats = self.repeats, []  # a block's body sees only its own repeats' indices
        try:
            self.body(block.body, inner, {**args, "in_channels": child.args["in_channels"]})
        finally:
            self.block_stack.pop()
            self.repeats = outer_repeats
        self.set_outputs(child, inner, block.outputs, block.outputs_span or block.span)
        return self.finish_container(item, child, name, inputs)

    def check_body_alone(self, block: BlockDef, child: Module, args: dict[str, Any]) -> None:
        """The errors of a block's body that do not depend on its input, for an instance whose input is broken
        (reported already): a mistake in the body is then still reported, and only once, however many
        instances there are. What reads `in_channels` cannot be checked without the input, so its errors
        are left out."""
        scratch = Module(path=child.path, kind="block", class_name=child.class_name, span=child.span,
                         block=block.name, args=args, inputs=list(child.inputs), input_shapes=[None] * len(child.inputs))
        inner = Scope(module=scratch, defaults=block.defaults, in_sequence=False, block=block, current=block.inputs[0])
        found, self.diagnostics = self.diagnostics, Diagnostics()
        self.block_stack.append(block.name)
        outer_repeats, self.repeats = self.repeats, []
        try:
            self.body(block.body, inner, dict(args))
        finally:
            self.block_stack.pop()
            self.repeats = outer_repeats
            alone, self.diagnostics = self.diagnostics, found
        for diagnostic in alone.errors:
            if "'in_channels'" not in diagnostic.message:
                self.diagnostics.add(diagnostic)

    def group_node(self, item: Item, scope: Scope, env: dict[str, Any], name: str, inputs: list[str]) -> Node:
        """A named sub-network written in place: the enclosing parameters, its own class, several outputs."""
        class_name = item.attrs.get("class", _camel(name))
        if not isinstance(class_name, str) or not is_python_name(class_name):
            raise SpecError.at(item.attrs.value_span("class"), f"class name {class_name!r} is not a valid identifier")
        problem: str | None
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
        raw_names = item.attrs.get("inputs", ["input"])
        names = [raw_names] if isinstance(raw_names, str) else raw_names
        if not isinstance(names, list) or not all(isinstance(n, str) and is_python_name(n) for n in names) or \
                len(set(names)) != len(names):
            raise SpecError.at(item.attrs.value_span("inputs"), "'inputs' is a list of distinct input names")
        if len(inputs) != len(names):
            raise SpecError.at(item.span, f"group '{name}' takes {len(names)} input(s) ({', '.join(names)}), "
                               f"got {len(inputs)}")
        child = Module(path=join_path(scope.module.path, name), kind="group", class_name=class_name, span=item.span,
                       inputs=list(names), input_shapes=[scope.module.value_shape(i) for i in inputs])
        inner = Scope(module=child, defaults=scope.defaults, in_sequence=False, block=scope.block, current=names[0])
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

    def shared(self, item: Item, share: str, scope: Scope, name: str, inputs: list[str]) -> Node:
        """A layer that applies the weights of the earlier layer `share` (the item's `share`)."""
        span = item.attrs.value_span("share")
        owner = scope.module.node(share)
        if owner is None or owner.shares is not None:
            raise SpecError.at(span, f"'share' must name an earlier layer that owns weights; "
                               f"'{share}' is not one", did_you_mean(share, [n.name for n in scope.module.nodes]))
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
        shapes = all_known([scope.module.value_shape(source) for source in inputs])
        if shapes is None:
            return node
        try:
            if node.is_call:
                outputs = module_output_shapes(owner.called_module(), shapes, join_path(scope.module.path, name))
                node.shape = outputs[0] if len(outputs) == 1 else None
            else:
                node.shape = OPS[owner.op].infer(owner.attrs, shapes)
        except SpecError:
            raise
        except ShapeError as error:
            raise SpecError.at(item.span, f"'{name}' shares '{owner.name}' but {error.message}", error.hint)
        return node


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.replace(".", "_").split("_") if part) or "Group"
