"""The emittability pass: whether the network can be written as the classes of one PyTorch file.

Lowering has checked that the spec means something; this pass checks what the file `build` writes
additionally needs, on the IR alone: every name the file defines at module level is its own, every
block definition lowers to one class for all its instances (`ir/blocks.py`), every expression of such a
class has a Python meaning, every member of an nn.Sequential is a module, a flag holding whether an
optional layer runs is no layer's name, an optional layer is no module list's member, and a nested
block that reads its input channels is told them.

It visits the network in the order the file is written — the network class's layers in order, each
block's class when its first instance is met, nested blocks inside the block using them — so the first
problem it reports is the one a reader of the file would meet first. The PyTorch backend runs it before
writing, and only asserts what it guarantees.

    >>> from archspec.compiler import compile_spec
    >>> blocks = check_classes(compile_spec("specs/resnet/resnet50.yaml"))
    >>> [layer.name for layer in blocks.block("bottleneck").layers][:3]
    ['conv1', 'bn1', 'relu']
"""

from __future__ import annotations

from ..errors import Span, SpecError
from ..ir.blocks import USED_AS, BlockIR, BlockLowering, Layer
from ..ir.graph import Module, Network, Node
from ..ops import OPS, Op, Shape
from ..spec import expr as ex


def codegen_error(span: Span, message: str, hint: str | None = None) -> SpecError:
    return SpecError.at(span, f"cannot generate PyTorch code: {message}", hint)


def file_names() -> dict[str, str]:
    """The names the file may define or import before any of the spec's, and what each is."""
    names = {}
    for op in OPS.values():
        if op.helper is not None:
            names[op.helper[0]] = f"the helper function of '{op.name}'"
    for name in [*ex.PYTHON_IMPORTS, *ex.PYTHON_HELPERS]:
        names[name] = "a name the file may import or define for expressions"
    return names


def check_classes(network: Network) -> BlockLowering:
    """Raise SpecError at the first construct the PyTorch file cannot hold; return the block definitions
    lowered on the way, which the backend then writes from."""
    check = _FileCheck(network)
    check.network_class()
    check.lowering.takes_channels = {name for name, block in check.blocks.items() if block.uses_in_channels}
    return check.lowering


def check_emittable(network: Network, input_shape: Shape) -> None:
    """`check_classes`, as a step of `validate`: the file does not depend on the input size."""
    check_classes(network)


def module_form(op: Op, span: Span) -> None:
    """A functional op where a module must be (a member of nn.Sequential) needs a module form."""
    if not op.module and op.sequence_form is None:
        raise codegen_error(span, f"'{op.name}' cannot be an element of a 'seq'")


def applied_as_module(op: Op, span: Span) -> None:
    """nn.Sequential calls each member: a bare parameter (`scale`), which forward applies, cannot be one."""
    if op.applies is not None:
        raise codegen_error(span, f"'{op.name}' cannot be an element of a 'seq'")


class _FileCheck:
    """The module-level names of the file, and the classes in the order it writes them."""

    def __init__(self, network: Network):
        self.network = network
        self.lowering = BlockLowering(network)
        self.module_names = file_names()
        self.blocks: dict[str, _ClassCheck] = {}
        self.claim_name(network.name, network.name_span, "the factory function (the spec name)")
        self.claim_name(network.root.class_name, network.class_span, "the network class")
        self.detector_settings()

    def claim_name(self, name: str, span: Span | None, what: str) -> None:
        """A second definition of a module-level name would replace the first."""
        other = self.module_names.get(name)
        if other is not None:
            raise codegen_error(span or self.network.root.span, f"{what} would be named '{name}', "
                                f"which is already {other}", hint="give each class and the spec a different name")
        self.module_names[name] = what

    def detector_settings(self) -> None:
        """A detector setting written over the network's parameters (`classes: num_classes`) is kept as that
        expression in the class, so it must have a Python meaning."""
        from ..detection.spec import FOLLOWS_CONSTRUCTOR

        detection = self.network.detection
        if detection is None:
            return
        for key in FOLLOWS_CONSTRUCTOR.get(detection.kind, ()):
            text = detection.sources.get(key)
            expression = ex.parse(text) if text is not None else None
            if expression is None or not ex.names_in(expression) <= set(self.network.params):
                continue  # written as a value: the class holds the value
            try:
                ex.to_python(expression)
            except ex.ExprError as exc:
                raise codegen_error(detection.source_spans.get(key, detection.span), exc.message,
                                    hint=exc.hint) from None

    def block(self, name: str) -> _ClassCheck:
        """The class of a block definition, checked when its first instance is met."""
        if name not in self.blocks:
            definition = self.network.blocks[name]
            self.claim_name(definition.class_name, definition.class_span or definition.span,
                            f"the class of block '{name}'")
            check = self.blocks[name] = _ClassCheck(self, self.lowering.block(name))
            check.body()
        return self.blocks[name]

    # ------------------------------------------------------------ classes whose every value is known

    def network_class(self) -> None:
        self.concrete_class(self.network.root)

    def concrete_class(self, module: Module) -> None:
        """The network, or a `group` inside it: each layer that owns a module, then how forward applies it."""
        for node in module.nodes:
            if (node.is_call or OPS[node.op].module) and node.shares is None:
                self.construct(node)
            if not node.is_call:
                self.network_expressions(node)

    def construct(self, node: Node) -> None:
        if not node.is_call:
            module_form(OPS[node.op], node.span)
            self.network_expressions(node)
            return
        child = node.child
        assert child is not None, f"call '{node.name}' without its module"  # lint() checks it
        if child.kind == "sequence":
            for member in child.nodes:
                if not member.is_call:
                    applied_as_module(OPS[member.op], member.span)
                self.construct(member)
        elif child.kind == "group":
            self.concrete_class(child)
        else:
            assert child.block is not None, f"'{child.path}' is an instance of no block"
            self.block(child.block)

    def network_expressions(self, node: Node) -> None:
        """An attribute that reads a constructor parameter of the network is written as Python over it."""
        for name, expr in node.exprs.items():
            try:
                ex.to_python(expr, needs=set())
            except ex.ExprError as exc:
                span = node.item.attrs.value_span(name) if node.item is not None else node.span
                raise codegen_error(span, exc.message, hint=exc.hint) from None


class _ClassCheck:
    """One block definition's class: its layers, as the class's constructor builds them."""

    def __init__(self, file: _FileCheck, ir: BlockIR):
        self.file = file
        self.ir = ir
        # The Python type of each name an expression reads: it decides whether the expression prints.
        self.kinds = {**{p: "int" for p in ir.channel_params},
                      **{n: d.type for n, d in ir.definition.params.items()}}
        # Whether the constructor takes the channels of its inputs: some expression of the class reads them.
        self.uses_in_channels = False
        self.layer_names = {layer.name.partition(".")[0] for layer in ir.layers}

    def body(self) -> None:
        for layer in self.ir.layers:
            self.layer(layer)

    def printable(self, expr: ex.Expr, span: Span | None = None, want: str | None = None) -> None:
        """The expression must print as Python that computes what the analysis computed."""
        try:
            ex.to_python(expr, self.read, self.kinds, want, set())
        except ex.ExprError as exc:
            raise codegen_error(span or self.ir.definition.span, exc.message, hint=exc.hint) from None

    def read(self, name: str) -> str:
        if name in self.ir.channel_params:
            self.uses_in_channels = True
        return name

    def attrs(self, layer: Layer) -> None:
        kinds = layer.leaf_op.attrs
        for name, expr in layer.attrs.items():
            self.printable(expr, layer.span, USED_AS.get(kinds[name].kind))

    # ------------------------------------------------------------ one layer of the body

    def layer(self, layer: Layer) -> None:
        op = layer.op_class
        if layer.shares is not None:  # the owner's module, applied again
            if op is not None and not op.module:
                self.attrs(layer)
            return
        if layer.condition is not None:
            self.printable(layer.condition)
        if op is not None and not op.module:  # computed in forward
            self.attrs(layer)
            if layer.condition is not None:
                self.flag_is_free(layer)
            return
        if layer.condition is not None:
            self.not_listed(layer)
        self.construct(layer)

    @staticmethod
    def not_listed(layer: Layer) -> None:
        """An optional module is an `Optional[nn.Module]` attribute: no member of a module list can be one."""
        if "." in layer.name:
            raise codegen_error(layer.span, "a layer of a module list cannot depend on the block's parameters")

    def flag_is_free(self, layer: Layer) -> None:
        """`use_<name>` holds whether an optional layer without a module runs; it must be no layer's name."""
        flag = f"use_{layer.name}"
        if flag in self.layer_names:
            raise codegen_error(layer.span, f"'{flag}' would hold whether '{layer.name}' runs, but it is a "
                                "layer name", hint="rename one of the two")
        self.layer_names.add(flag)

    # ------------------------------------------------------------ constructing modules

    def construct(self, layer: Layer) -> None:
        if layer.kind == "seq":
            self.sequence(layer.body)
        elif layer.kind == "repeat":
            self.repeat(layer)
        elif layer.kind == "block":
            self.nested_block(layer)
        elif layer.leaf_op.module:
            self.attrs(layer)
        else:
            module_form(layer.leaf_op, layer.span)

    def member(self, layer: Layer) -> None:
        """A member of an nn.Sequential."""
        if layer.kind == "op":
            applied_as_module(layer.leaf_op, layer.span)
        self.construct(layer)

    def sequence(self, members: list[Layer]) -> None:
        if all(member.condition is None and not member.inline for member in members):
            for member in members:
                self.member(member)
        else:
            self.members_built(members)

    def repeat(self, layer: Layer) -> None:
        self.printable(layer.repeat_count)
        self.kinds[layer.var] = "int"
        (member,) = layer.body if len(layer.body) == 1 else (None,)
        if member is not None and member.condition is None and member.kind in ("op", "block"):
            self.member(member)
        else:
            self.members_built(layer.body)

    def members_built(self, members: list[Layer]) -> None:
        """A sequence built into a list, each member under its condition; an unnamed repeat's copies in it."""
        for member in members:
            if member.inline:
                self.kinds[member.var] = "int"
                if member.condition is not None:
                    self.printable(member.condition)
                self.printable(member.repeat_count)
                self.members_built(member.body)
                continue
            if member.condition is not None:
                self.printable(member.condition)
            self.member(member)

    # ------------------------------------------------------------ nested blocks

    def nested_block(self, layer: Layer) -> None:
        if layer.choices:
            self.chosen_block(layer)
            return
        inner = self.file.block(layer.op)
        if inner.uses_in_channels:
            self.channels_known(layer)
        for param, decl in inner.ir.definition.params.items():
            if param in layer.attrs:
                self.printable(layer.attrs[param], layer.span, USED_AS.get(decl.type))

    def chosen_block(self, layer: Layer) -> None:
        """`$param`: one call builds whichever class the parameter names, so all take the channels if one does."""
        classes = [self.file.block(block) for block in layer.choices.values()]
        if any(inner.uses_in_channels for inner in classes):
            for inner in classes:
                inner.uses_in_channels = True
            self.channels_known(layer)
        for expr in layer.attrs.values():
            self.printable(expr, layer.span)  # at the layer, as a nested block's arguments are

    def channels_known(self, layer: Layer) -> None:
        if layer.in_channels is None:
            raise codegen_error(layer.span, "cannot tell the input channels of this block")
        for channels in layer.in_channels:
            self.printable(channels, layer.span, "int")
