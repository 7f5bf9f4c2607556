"""Classes for user blocks, written from the block's definition with its parameters as constructor arguments.

Attribute expressions are folded and printed as Python over the constructor
arguments, input channels are tracked as expressions through the block, and
`if` conditions become optional submodules. Every instance in the IR is then
checked against the generated expressions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ...errors import Span, SpecError
from ...ir.graph import Module, Node
from ...ops import AUTO, OPS, CodeArgs, Op
from ...spec import expr as ex
from ...spec.model import BlockDef, Item
from ...spec.values import expression_span, parse_expression
from ..writer import LineWriter, Namespace
from .forward import Step, emit_forward, make_step, module_call
from .parts import ModuleLists, StatelessModules, codegen_error, docstring, module_form, with_note

if TYPE_CHECKING:
    from .module_file import FileEmitter


@dataclass
class Symbolic:
    """Expressions over a block's constructor arguments."""

    exprs: dict[str, ex.Expr]
    args: CodeArgs
    unverified: set[str] = field(default_factory=set)  # compiler choices that differ between instances


class BlockClass:
    """Writes one class for a block definition and constructs its instances."""

    def __init__(self, emitter: "FileEmitter", block: BlockDef):
        self.emitter = emitter
        self.block = block
        self.instances = [m for m in emitter.network.modules() if m.kind == "block" and m.block == block.name]
        # Every IR node built from an item of this block (sequences inside included), and its instance.
        self.by_item: dict[int, list[Node]] = {}
        self.instance_of: dict[int, Module] = {}
        for instance in self.instances:
            stack = list(instance.nodes)
            while stack:
                node = stack.pop()
                self.by_item.setdefault(id(node.item), []).append(node)
                self.instance_of[id(node)] = instance
                if node.child is not None and node.child.kind == "sequential":
                    stack.extend(node.child.nodes)
        self.names = Namespace(emitter.reserved)
        self.rename = {p: self.names.claim(p) for p in ["in_channels", *block.params]}
        # The Python type of each constructor argument, which decides how expressions over them print.
        self.kinds = {"in_channels": "int" if len(block.inputs) == 1 else "list[int]",
                      **{name: decl.type for name, decl in block.params.items()}}
        self.uses_in_channels = False
        self.reuse = StatelessModules()
        self.lists = ModuleLists()

    # ------------------------------------------------------------ instances

    def instance(self, module: Module) -> str:
        """`ClassName(in_channels, required…, optional=value)` for one instance."""
        params = self.block.params
        needs = self.emitter.needs
        positional = [ex.python_literal(module.args["in_channels"], needs)] if self.uses_in_channels else []
        keywords = []
        for name, decl in params.items():
            value = module.args[name]
            if decl.required:
                positional.append(ex.python_literal(value, needs))
            elif value != decl.default or type(value) is not type(decl.default):
                keywords.append(f"{self.rename[name]}={ex.python_literal(value, needs)}")
        return f"{self.block.class_name}({', '.join(positional + keywords)})"

    # ------------------------------------------------------------ class source

    def source(self) -> str:
        block = self.block
        init = LineWriter()
        init.indent()
        init.indent()
        init.line("super().__init__()")
        channels: dict[str, ex.Expr | None] = {}
        for position, name in enumerate(block.inputs):
            channels[name] = ex.Name(0, "in_channels") if len(block.inputs) == 1 else ex.Index(
                0, ex.Name(0, "in_channels"), ex.Const(0, position))
        steps = []
        for item in block.body:
            steps.append(self.item(item, init, channels))
        self.lists.finish(init)
        writer = LineWriter()
        writer.line(f"class {block.class_name}(nn.Module):")
        writer.indent()
        if block.doc:
            writer.line(f'"""{docstring(block.doc)}"""')
            writer.line()
        writer.line(f"def __init__({', '.join(self.signature())}) -> None:")
        writer.lines.extend(init.lines)
        writer.line()
        instance = self.instances[0] if self.instances else None
        outputs = self.outputs(instance)
        keys = instance.output_keys if instance is not None else None
        self.emitter.forward_signature(writer, block.inputs, outputs, keys)
        writer.indent()
        emit_forward(writer, block.inputs, steps, outputs, keys, chain="out", reserved=self.emitter.reserved)
        return writer.source()

    def signature(self) -> list[str]:
        parts = ["self"]
        if self.uses_in_channels:
            kind = "int" if len(self.block.inputs) == 1 else "List[int]"
            if kind != "int":
                self.emitter.typing.add("List")
            parts.append(f"{self.rename['in_channels']}: {kind}")
        # Python wants parameters without a default first; each group keeps the spec's order.
        for name, decl in sorted(self.block.params.items(), key=lambda item: not item[1].required):
            annotation = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "list"}[decl.type]
            text = f"{self.rename[name]}: {annotation}"
            parts.append(text if decl.required else f"{text} = {ex.python_literal(decl.default, self.emitter.needs)}")
        return parts

    def outputs(self, instance: Module | None) -> list[str]:
        if instance is not None:
            return [instance.value(o) if instance.value(o) in self.block.inputs else o for o in instance.outputs]
        return [self.block.body[-1].name] if self.block.body else list(self.block.inputs)

    # ------------------------------------------------------------ one body item

    def item(self, item: Item, init: LineWriter, channels: dict[str, ex.Expr | None]) -> Step:
        if item.kind == "group":
            raise codegen_error(item.span, "a 'group' inside a block definition is not supported yet",
                                 hint="use a block there, or move the group to the network body")
        if item.kind == "repeat":
            raise codegen_error(item.span, "'repeat' inside a block definition is not supported yet",
                                 hint="repeat the block in the network body instead")
        if item.share is not None:
            raise codegen_error(item.span, "'share' inside a block definition is not supported yet")
        nodes = self.nodes_for(item)
        name = nodes[0].name if nodes else item.name
        if name is None:
            raise codegen_error(item.span, "this layer is never built; give it a name")
        inputs = self.input_names(item, nodes)
        condition = self.condition(item)
        construct, out_channels, template = self.construct(item, nodes, [channels.get(s) for s in inputs], name)
        channels[name] = out_channels
        op = OPS.get(item.op) if item.kind == "op" else None
        attrs = nodes[0].attrs if nodes else {}
        if op is not None:
            self.emitter.use_helper(op)
        if construct is not None and condition is None and op is not None:
            attribute = self.reuse.attribute(item, op, name, construct)
            if attribute != name:
                return make_step(name, op, inputs, module_call(attribute, len(inputs)), attrs)
        if construct is not None:
            if condition is None:
                self.lists.assign(init, name, construct, self.emitter.note(item.span))
            elif "." in name:
                raise codegen_error(item.span, "a layer of a module list cannot depend on the block's parameters")
            else:
                self.emitter.typing.add("Optional")
                init.line(f"self.{name}: Optional[nn.Module] = None")
                init.line(f"if {condition}:")
                init.indent()
                init.block(with_note(f"self.{name} = {construct}", self.emitter.note(item.span)))
                init.outdent()
        elif condition is not None:
            raise codegen_error(item.span, "'if' with a condition on the block's parameters needs a layer "
                                 "with a module (not a merge or flatten)")
        child = nodes[0].child if nodes else None
        return make_step(name, op, inputs, template, attrs, optional=name if condition is not None else None,
                          child=child)

    def nodes_for(self, item: Item) -> list[Node]:
        found = self.by_item.get(id(item), [])
        if len({node.name for node in found}) > 1:
            raise codegen_error(item.span, "this layer gets different names in different instances; name it")
        return found

    def input_names(self, item: Item, nodes: list[Node]) -> list[str]:
        if nodes:
            return list(nodes[0].inputs)
        if item.inputs is None:
            raise codegen_error(item.span, "cannot tell this layer's input; add 'from'")
        return [item.inputs] if isinstance(item.inputs, str) else list(item.inputs)

    def condition(self, item: Item) -> str | None:
        if item.condition is None:
            return None
        span = item.attrs.value_span("if")
        expr = self.expression(item.condition, span)
        if isinstance(expr, ex.Const):
            return None if expr.value else "False"
        return self.python(expr, span)

    def python(self, expr: ex.Expr, span: Span | None, want: str | None = None) -> str:
        """`expr` as Python over the constructor arguments, computing what the analysis computed."""
        try:
            return ex.to_python(expr, self.python_name, self.kinds, want, self.emitter.needs)
        except ex.ExprError as exc:
            raise codegen_error(expression_span(span, exc.offset) if span else self.block.span, exc.message,
                                 hint=exc.hint) from None

    def python_name(self, name: str) -> str:
        if name == "in_channels":
            self.uses_in_channels = True
        return self.rename.get(name, name)

    def expression(self, raw: Any, span: Span) -> ex.Expr:
        if isinstance(raw, str):
            expr = parse_expression(raw, span)
        elif isinstance(raw, list):
            expr = ex.ListExpr(0, tuple(parse_expression(v, span) if isinstance(v, str) else ex.Const(0, v)
                                        for v in raw))
        else:
            return ex.Const(0, raw)
        unknown = ex.names_in(expr) - set(self.rename)
        if unknown:
            raise SpecError.at(span, f"unknown name '{sorted(unknown)[0]}' in block '{self.block.name}'")
        return ex.fold(expr, {})

    # ------------------------------------------------------------ constructing modules

    def construct(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str
                  ) -> tuple[str | None, ex.Expr | None, str]:
        """(constructor source or None, output channels, forward template) of one item."""
        arity = len(in_channels)
        if item.kind == "seq":
            sub: dict[str, ex.Expr | None] = {"input": in_channels[0]}
            children = []
            for child in item.body:
                condition = self.condition(child)
                if condition == "False":
                    continue
                if condition is not None:
                    raise codegen_error(child.attrs.key_span("if"), "a layer of a 'seq' inside a block cannot "
                                         "depend on the block's parameters",
                                         hint="make the whole 'seq' conditional, or move the layer out of it")
                child_name = str(len(children)) if child.name is None else str(child.name)
                construct, out, _ = self.construct(child, self.by_item.get(id(child), []), [sub["input"]],
                                                   child_name)
                if construct is None:
                    construct = module_form(child.op, child.span)
                sub["input"] = out
                children.append((child_name, construct))
            return self.emitter.sequential(children), sub["input"], module_call(name, 1)
        if item.kind == "block":
            return self.nested_block(item, nodes, in_channels, name)
        op = OPS[item.op]
        symbolic = self.op_args(item, op, nodes, in_channels)
        self.verify(item, op, symbolic, nodes)
        out = self.output_channels(op, symbolic, in_channels)
        if op.module:
            return op.emit(symbolic.args), out, module_call(name, arity)
        symbolic.args.values["inputs"] = arity
        return None, out, op.emit(symbolic.args)

    def op_args(self, item: Item, op: Op, nodes: list[Node], in_channels: list[ex.Expr | None]) -> Symbolic:
        exprs: dict[str, ex.Expr] = {}
        unverified: set[str] = set()
        for attr_name, attr in op.attrs.items():
            if attr_name in item.attrs:
                raw, span = item.attrs[attr_name], item.attrs.value_span(attr_name)
            elif attr_name in self.block.defaults.get(op.name, {}):
                value = self.block.defaults[op.name][attr_name]
                raw, span = value.value, value.span
            elif attr.inferred:
                exprs[attr_name] = self.inferred(item, attr_name, nodes, in_channels if attr.channels else [])
                continue
            else:
                # Left to the compiler (an in-place activation): what it chose for every instance, or the
                # op's safe default where instances differ (nothing to verify then: it is not in the spec).
                agreed = {freeze(node.attrs.get(attr_name)) for node in nodes}
                if len(agreed) > 1:
                    unverified.add(attr_name)
                raw, span = (agreed.pop() if len(agreed) == 1 else attr.default), item.span
            literal = raw is AUTO or attr.kind in ("str", "choice")  # names, not expressions
            exprs[attr_name] = ex.Const(0, raw) if literal else self.expression(raw, span)
        exprs = op.resolve_auto(exprs)
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for attr_name, expr in exprs.items():
            kind = op.attrs[attr_name].kind
            if isinstance(expr, ex.Const):
                values[attr_name] = normalise(kind, expr.value)
            want = {"int": "int", "pair": "int", "float": "float"}.get(kind)
            span = item.attrs.value_span(attr_name) if attr_name in item.attrs else None
            sources[attr_name] = self.python(expr, span, want)
        for extra in ("rank",):
            agreed = {node.attrs.get(extra) for node in nodes} - {None}
            if len(agreed) == 1:
                values[extra] = agreed.pop()
        return Symbolic(exprs, CodeArgs(values, sources), unverified)

    def inferred(self, item: Item, attr_name: str, nodes: list[Node], in_channels: list[ex.Expr | None]) -> ex.Expr:
        """A channel count tracked through the block, or a value every instance agrees on."""
        if in_channels and in_channels[0] is not None:
            return in_channels[0]
        agreed = {node.attrs.get(attr_name) for node in nodes}
        if len(agreed) == 1 and None not in agreed:
            return ex.Const(0, agreed.pop())
        raise codegen_error(item.span, f"'{attr_name}' depends on the input size and differs between the "
                             "instances of this block", hint=f"give '{attr_name}' explicitly")

    def output_channels(self, op: Op, symbolic: Symbolic, in_channels: list[ex.Expr | None]) -> ex.Expr | None:
        if op.channels == "out":
            return symbolic.exprs["out"]
        if op.channels == "sum":
            if any(c is None for c in in_channels):
                return None
            total = in_channels[0]
            for other in in_channels[1:]:
                total = ex.Binary(0, "+", total, other)
            return ex.fold(total, {})
        if op.channels == "none":
            return None
        return in_channels[0] if in_channels else None

    def verify(self, item: Item, op: Op, symbolic: Symbolic, nodes: list[Node]) -> None:
        """Every instance must get from the class exactly the attributes it was analysed with."""
        for node in nodes:
            env = dict(self.instance_of[id(node)].args)
            for attr_name, expr in symbolic.exprs.items():
                if attr_name not in node.attrs or attr_name in symbolic.unverified:
                    continue
                value = normalise(op.attrs[attr_name].kind, ex.evaluate(expr, env))
                if value != node.attrs[attr_name]:
                    raise AssertionError(f"generated class {self.block.class_name} would build "
                                         f"{node.name}.{attr_name}={value!r}, analysed {node.attrs[attr_name]!r}")

    def nested_block(self, item: Item, nodes: list[Node], in_channels: list[ex.Expr | None], name: str
                     ) -> tuple[str, ex.Expr | None, str]:
        inner = self.emitter.block_class(item.op) if not item.op.startswith("$") else None
        if inner is None:
            raise codegen_error(item.span, "a block chosen by a parameter cannot be used inside another block")
        positional = []
        if inner.uses_in_channels:
            if any(c is None for c in in_channels):
                raise codegen_error(item.span, "cannot tell the input channels of this block")
            channel_exprs = in_channels if len(in_channels) > 1 else in_channels[:1]
            text = [self.python(c, None, "int") for c in channel_exprs]
            positional.append(text[0] if len(text) == 1 else f"[{', '.join(text)}]")
        keywords = []
        for param, decl in inner.block.params.items():
            if param in item.attrs:
                span = item.attrs.value_span(param)
                source = self.python(self.expression(item.attrs[param], span), span,
                                     {"int": "int", "float": "float"}.get(decl.type))
                (positional if decl.required else keywords).append(
                    source if decl.required else f"{inner.rename[param]}={source}")
        construct = f"{inner.block.class_name}({', '.join(positional + keywords)})"
        out = None
        agreed = {n.shape[0] if n.shape else None for n in nodes}
        if len(agreed) == 1 and None not in agreed:
            out = ex.Const(0, agreed.pop())
        return construct, out, module_call(name, len(in_channels))


def freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def normalise(kind: str, value: Any) -> Any:
    if kind == "pair" and isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if kind == "pair" and isinstance(value, list):
        return tuple(value)
    if kind == "float" and isinstance(value, (int, Fraction)) and not isinstance(value, bool):
        return float(value)
    return value
