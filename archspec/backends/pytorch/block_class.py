"""Classes for user blocks, printed from the block's symbolic IR (`ir/blocks.py`) with its parameters as
constructor arguments.

Each attribute is an expression over the constructor arguments and is printed as Python; an optional layer
with a module becomes an `Optional[nn.Module]` attribute built under its condition, one without a module a
`self.use_<name>` flag, and a seq with optional layers or a repeat is built into a list, as torchvision
writes `layers.append(...)` under an `if`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...ir.blocks import USED_AS, BlockIR, Layer
from ...ir.graph import Module
from ...ops import CodeArgs
from ...spec import expr as ex
from ..writer import LineWriter, Namespace, call_lines
from .forward import Step, call_template, emit_forward, make_step, module_call
from .parts import ModuleLists, StatelessModules, docstring_source, module_form, with_note
from .training import emit_initialisation

if TYPE_CHECKING:
    from .module_file import FileEmitter


class BlockClass:
    """Writes one class for a block definition and constructs its instances."""

    def __init__(self, emitter: "FileEmitter", ir: BlockIR):
        self.emitter = emitter
        self.ir = ir
        self.block = ir.definition
        self.names = Namespace(emitter.reserved)
        self.rename = {p: self.names.claim(p) for p in [*ir.channel_params, *self.block.params]}
        # The Python type of each constructor argument, which decides how expressions over them print.
        self.kinds = {**{p: "int" for p in ir.channel_params}, **{n: d.type for n, d in self.block.params.items()}}
        # Known before any instance is written: a `$param` call met later may need the channels of a class
        # that does not read them.
        self.uses_in_channels = self.block.name in emitter.block_irs.takes_channels
        self.reuse = StatelessModules()
        self.lists = ModuleLists()
        self.layer_names = {layer.name.partition(".")[0] for layer in ir.layers}

    # ------------------------------------------------------------ instances

    def instance(self, module: Module) -> str:
        """`ClassName(in_channels, required…, optional=value)` for one instance."""
        channels = module.args["in_channels"]
        channels = channels if isinstance(channels, list) else [channels]
        needs = self.emitter.needs
        positional = [ex.python_literal(c, needs) for c in channels] if self.uses_in_channels else []
        keywords = []
        for name, decl in self.block.params.items():
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
        steps = [self.item(layer, init) for layer in self.ir.layers]
        self.lists.finish(init)
        if self.block.name in self.emitter.network.block_inits:
            emit_initialisation(self.emitter, self.emitter.network.block_inits[self.block.name], init)
        writer = LineWriter()
        writer.line(f"class {block.class_name}(nn.Module):")
        writer.indent()
        if block.doc:
            writer.block(docstring_source(block.doc, writer.level))
            writer.line()
        writer.line(f"def __init__({', '.join(self.signature())}) -> None:")
        writer.lines.extend(init.lines)
        writer.line()
        self.emitter.forward_signature(writer, block.inputs, self.ir.outputs, self.ir.output_keys)
        writer.indent()
        emit_forward(writer, block.inputs, steps, self.ir.outputs, self.ir.output_keys, chain="out",
                     reserved=self.emitter.reserved)
        return writer.source()

    def signature(self) -> list[str]:
        parts = ["self"]
        if self.uses_in_channels:
            parts.extend(f"{self.rename[param]}: int" for param in self.ir.channel_params)
        # Python wants parameters without a default first; the required ones and the others each keep the
        # spec's order.
        for name, decl in sorted(self.block.params.items(), key=lambda item: not item[1].required):
            annotation = {"int": "int", "float": "float", "bool": "bool", "str": "str", "list": "list"}[decl.type]
            text = f"{self.rename[name]}: {annotation}"
            default = ex.python_literal(decl.default, self.emitter.needs)
            parts.append(text if decl.required else f"{text} = {default}")
        return parts

    def python(self, expr: ex.Expr, want: str | None = None) -> str:
        """`expr` as Python over the constructor arguments, computing what the analysis computed; `want` is
        the type the value is used as ("int", "float"). `check_classes` has printed it once already."""
        try:
            return ex.to_python(expr, self.python_name, self.kinds, want, self.emitter.needs)
        except ex.ExprError as exc:
            raise AssertionError(f"block {self.block.name}: an expression passes/emittable.py did not print: "
                                 f"{exc.message}") from None

    def python_name(self, name: str) -> str:
        if name in self.ir.channel_params:
            self.uses_in_channels = True
        return self.rename.get(name, name)

    # ------------------------------------------------------------ one layer of the body

    def item(self, layer: Layer, init: LineWriter) -> Step:
        op = layer.op_class
        if layer.shares is not None:  # the owner's module, applied again
            if op is not None and not op.module:
                template = op.emit(self.code_args(layer, inputs=len(layer.inputs)))
            else:
                template = module_call(layer.shares, len(layer.inputs))
            return make_step(layer.name, op, layer.inputs, template, layer.values, child=layer.child)
        condition = self.python(layer.condition) if layer.condition is not None else None
        if op is not None:
            self.emitter.use_helper(op, layer.values)
            if not op.module:
                args = self.functional_args(layer, init)
                template = op.emit(args)
                self.lists.hold_place(init, layer.name)
                if condition is None:
                    return make_step(layer.name, op, layer.inputs, template, layer.values, named=layer.named,
                                     pieces=layer.pieces, in_place=op.emit_in_place(args) if layer.in_place else None)
                flag = self.flag(layer)
                init.line(with_note(f"self.{flag} = {condition}", self.emitter.note(layer.span)))
                return make_step(layer.name, op, layer.inputs, template, layer.values, flag=flag, named=layer.named)
            if condition is None:
                construct = self.construct(layer, init)
                attribute = self.reuse.attribute(layer.named, op, layer.name, construct)
                if attribute == layer.name:
                    self.lists.assign(init, layer.name, construct, self.emitter.note(layer.span))
                template = call_template(op, attribute, self.code_args(layer, inputs=len(layer.inputs)))
                return make_step(layer.name, op, layer.inputs, template, layer.values)
        if condition is None:
            self.lists.assign(init, layer.name, self.construct(layer, init), self.emitter.note(layer.span))
        else:
            assert "." not in layer.name, f"optional module list member '{layer.name}', refused by check_classes"
            self.emitter.typing.add("Optional")
            init.line(f"self.{layer.name}: Optional[nn.Module] = None")
            init.line(f"if {condition}:")
            init.indent()
            init.block(with_note(f"self.{layer.name} = {self.construct(layer, init)}", self.emitter.note(layer.span)))
            init.outdent()
        return make_step(layer.name, op, layer.inputs, module_call(layer.name, len(layer.inputs)), layer.values,
                         optional=layer.name if condition is not None else None, child=layer.child)

    def functional_args(self, layer: Layer, init: LineWriter) -> CodeArgs:
        """The arguments of an op computed in forward; one that depends on the constructor's arguments is kept
        on the module (`self.parts_sizes = [hidden, hidden]`), since forward cannot see those."""
        args = self.code_args(layer, inputs=len(layer.inputs))
        for name in layer.attrs:
            if name not in layer.values:
                attribute = f"{layer.name.replace('.', '_')}_{name}"
                init.line(with_note(f"self.{attribute} = {args.sources[name]}", self.emitter.note(layer.span)))
                args.sources[name] = f"self.{attribute}"
        return args

    def flag(self, layer: Layer) -> str:
        """`use_<name>`: whether an optional layer without a module runs, as torchvision keeps
        `self.use_res_connect`."""
        flag = f"use_{layer.name}"
        assert flag not in self.layer_names, f"flag '{flag}' is a layer name, refused by check_classes"
        self.layer_names.add(flag)
        return flag

    # ------------------------------------------------------------ constructing modules

    def construct(self, layer: Layer, init: LineWriter) -> str:
        """Source that constructs a layer's module; a seq or repeat built into a list writes that into `init`."""
        if layer.kind == "seq":
            return self.sequence(layer.body, init)
        if layer.kind == "repeat":
            return self.repeat(layer, init)
        if layer.kind == "block":
            return self.nested_block(layer)
        op = layer.leaf_op
        if not op.module:
            return module_form(op)
        self.emitter.use_helper(op, layer.values)
        return op.emit(self.code_args(layer))

    def member(self, layer: Layer, init: LineWriter) -> str:
        """A member of an nn.Sequential: a module (a bare parameter, as `scale` is, cannot be one)."""
        assert layer.kind != "op" or layer.leaf_op.applies is None, f"'{layer.op}' in nn.Sequential"
        return self.construct(layer, init)

    def code_args(self, layer: Layer, inputs: int | None = None) -> CodeArgs:
        values = dict(layer.values)
        if inputs is not None:
            values["inputs"] = inputs
        attrs = layer.leaf_op.attrs
        return CodeArgs(values, {name: self.python(expr, USED_AS.get(attrs[name].kind))
                                 for name, expr in layer.attrs.items()})

    def sequence(self, members: list[Layer], init: LineWriter) -> str:
        """`nn.Sequential(...)`; with optional members, a list built under their conditions, or an OrderedDict
        where members are named (torchvision's RegNet: `layers["se"] = ...` under `if se_ratio:`)."""
        if all(member.condition is None and not member.inline for member in members):
            return self.emitter.nn_sequential([(member.name, self.member(member, init)) for member in members])
        if any(member.named for member in members):
            layers = self.layer_dict(init)
            self.append_members(members, layers, init, keyed=True)
            return f"nn.Sequential({layers})"
        layers = self.layer_list(init)
        self.append_members(members, layers, init)
        return f"nn.Sequential(*{layers})"

    def repeat(self, layer: Layer, init: LineWriter) -> str:
        """`nn.Sequential(*[Module(...) for i in range(n)])`, or a loop appending each copy's layers."""
        count = self.python(layer.repeat_count)
        outer = self.rename.get(layer.var)
        index = self.rename[layer.var] = self.names.claim(layer.var)
        self.kinds[layer.var] = "int"
        try:
            (member,) = layer.body if len(layer.body) == 1 else (None,)
            if member is not None and member.condition is None and member.kind in ("op", "block"):
                construct = self.member(member, init)
                loop = index if layer.var in member.names() else "_"
                return call_lines("nn.Sequential", [f"*[{construct} for {loop} in range({count})]"])
            layers = self.layer_list(init)
            init.line(f"for {index} in range({count}):")
            init.indent()
            self.append_members(layer.body, layers, init)
            init.outdent()
            return f"nn.Sequential(*{layers})"
        finally:
            if outer is None:
                del self.rename[layer.var]
            else:
                self.rename[layer.var] = outer

    def append_copies(self, repeat: Layer, layers: str, init: LineWriter, keyed: bool = False) -> None:
        """An unnamed repeat in a seq: a loop appending each copy's layers to the seq's list."""
        outer = self.rename.get(repeat.var)
        index = self.rename[repeat.var] = self.names.claim(repeat.var)
        self.kinds[repeat.var] = "int"
        try:
            if repeat.condition is not None:
                init.line(f"if {self.python(repeat.condition)}:")
                init.indent()
            loop = index if repeat.var in repeat.names() else "_"
            init.line(f"for {loop} in range({self.python(repeat.repeat_count)}):")
            init.indent()
            self.append_members(repeat.body, layers, init, keyed)
            init.outdent()
            if repeat.condition is not None:
                init.outdent()
        finally:
            if outer is None:
                del self.rename[repeat.var]
            else:
                self.rename[repeat.var] = outer

    def layer_list(self, init: LineWriter) -> str:
        self.emitter.typing.add("List")
        layers = self.names.claim("layers")
        init.line(f"{layers}: List[nn.Module] = []")
        return layers

    def layer_dict(self, init: LineWriter) -> str:
        self.emitter.ordered_dict = True
        layers = self.names.claim("layers")
        init.line(f"{layers}: OrderedDict[str, nn.Module] = OrderedDict()")
        return layers

    def append_members(self, members: list[Layer], layers: str, init: LineWriter, keyed: bool = False) -> None:
        """Each member appended under its condition; `keyed`: stored under its name, an unnamed one under its
        position among the members built, which is how the compiler numbers it."""
        for member in members:
            if member.inline:
                self.append_copies(member, layers, init, keyed)
                continue
            if member.condition is not None:
                init.line(f"if {self.python(member.condition)}:")
                init.indent()
            construct = self.member(member, init)
            if not keyed:
                init.block(f"{layers}.append({construct})")
            else:
                key = ex.python_literal(member.name) if member.named else f"str(len({layers}))"
                init.block(f"{layers}[{key}] = {construct}")
            if member.condition is not None:
                init.outdent()

    def nested_block(self, layer: Layer) -> str:
        if layer.choices:
            return self.chosen_block(layer)
        inner = self.emitter.block_class(layer.op)
        positional: list[str] = []
        if inner.uses_in_channels:
            assert layer.in_channels is not None, f"'{layer.name}': channels unknown, refused by check_classes"
            positional.extend(self.python(channels, "int") for channels in layer.in_channels)
        keywords: list[str] = []
        for param, decl in inner.block.params.items():
            if param in layer.attrs:
                source = self.python(layer.attrs[param], USED_AS.get(decl.type))
                (positional if decl.required else keywords).append(
                    source if decl.required else f"{inner.rename[param]}={source}")
        return f"{inner.block.class_name}({', '.join(positional + keywords)})"

    def chosen_block(self, layer: Layer) -> str:
        """`{"basic": BasicBlock, "bottleneck": Bottleneck}[block](in_channels, planes=planes)`: the class a
        parameter names, of those its instances choose; the arguments by keyword, as the classes may order
        their parameters differently."""
        classes = [self.emitter.block_class(block) for block in layer.choices.values()]
        table = ", ".join(f"{ex.python_literal(value)}: {inner.block.class_name}"
                          for value, inner in zip(layer.choices, classes))
        arguments: list[str] = []
        if any(inner.uses_in_channels for inner in classes):
            # One call for all: check_classes marked every class chosen with one that reads the channels.
            assert all(inner.uses_in_channels for inner in classes), f"'{layer.name}': a class without channels"
            assert layer.in_channels is not None, f"'{layer.name}': channels unknown, refused by check_classes"
            arguments.extend(self.python(channels, "int") for channels in layer.in_channels)
        arguments += [f"{classes[0].rename[param]}={self.python(expr)}" for param, expr in layer.attrs.items()]
        param = self.python_name(layer.op[1:])
        return f"{{{table}}}[{param}]({', '.join(arguments)})"
