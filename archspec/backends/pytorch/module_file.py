"""The emitted file, and the classes in it whose every value is known: the network and its groups."""

from __future__ import annotations

import os
import re
from typing import Sequence

from ...errors import Span
from ...ir.blocks import BlockLowering
from ...ir.graph import Method, Module, Network, Node
from ...ops import OPS, CodeArgs, Op
from ...spec import expr as ex
from ..writer import LineWriter, call_lines
from .block_class import BlockClass
from .detection import detector_parts
from .forward import call_template, emit_forward, forward_names, make_step, method_steps, module_call, return_type
from ...passes.emittable import file_names
from .parts import ModuleLists, StatelessModules, docstring_source, escaped, fold_runs, module_form
from .training import emit_build_order, emit_init, emit_initialisation, emit_transfer_methods


class FileEmitter:
    def __init__(self, network: Network, blocks: BlockLowering, trace: bool = False):
        self.network = network
        self.trace = trace
        self.typing: set[str] = set()
        self.ordered_dict = False
        self.classes: dict[str, str] = {}  # block name -> class source
        self.helpers: dict[str, str] = {}  # module-level functions some ops need (center_crop)
        self.needs: set[str] = set()  # imports and helpers of printed expressions (Fraction, math)
        self.block_classes: dict[str, "BlockClass"] = {}
        self.block_irs = blocks  # each block definition lowered once, symbolically, by `check_classes`
        # What the file defines at module level, by name; `check_classes` has seen that no two share one.
        self.module_names = file_names()
        self.claim_module_name(network.name, "the factory function (the spec name)")
        self.claim_module_name(network.root.class_name, "the network class")
        self.detector = detector_parts(network)  # a detector's settings and methods, from `detect:`
        # Locals (constructor parameters, forward variables) must not shadow any class of the file.
        self.reserved = frozenset([*self.module_names, *(b.class_name for b in network.blocks.values())])

    def claim_module_name(self, name: str, what: str) -> None:
        """Record a module-level name of the file (a clash would make one definition replace the other)."""
        assert name not in self.module_names, f"{what} '{name}' is already {self.module_names[name]}"
        self.module_names[name] = what

    def source(self) -> str:
        network_class = self.network_class()
        for name in sorted(self.needs & ex.PYTHON_HELPERS.keys()):
            self.helpers.setdefault(name, ex.helper_source(name))
            self.typing.add("Optional")
        if self.network.params:
            self.typing.add("Any")  # the factory passes its keyword arguments on
        body = LineWriter()
        for text in [*self.helpers.values(), *(self.detector.helpers() if self.detector else ())]:
            body.line()
            body.block(text)
            body.line()
        for text in self.classes.values():
            body.line()
            body.block(text.rstrip("\n"))
            body.line()
        body.line()
        body.block(network_class.rstrip("\n"))
        body.line()
        body.line()
        class_name = self.network.root.class_name
        kwargs = "**kwargs: Any" if self.network.params else ""
        body.line(f"def {self.network.name}({kwargs}) -> {class_name}:")
        body.indent()
        body.block(docstring_source(self.network.doc or self.network.name, body.level))
        body.line(f"return {class_name}({'**kwargs' if kwargs else ''})")
        writer = LineWriter()
        if self.network.doc:
            writer.block(docstring_source(self.network.doc, 0))
            writer.line()
        self.imports(writer, body.source())
        writer.lines.extend(body.lines)
        return writer.source()

    def imports(self, writer: LineWriter, code: str) -> None:
        """The imports the code uses, and only those."""
        standard, torchvision = self.detector.imports() if self.detector else ([], [])
        for name in ("math", "Fraction"):
            line = ex.PYTHON_IMPORTS[name]
            if name in self.needs and line not in standard:
                standard.append(line)
        if self.ordered_dict:
            standard.append("from collections import OrderedDict")
        if self.typing:
            standard.append(f"from typing import {', '.join(sorted(self.typing))}")
        # isort's order: plain imports first, then `from` imports, each by module name.
        for line in sorted(standard, key=lambda line: (line.startswith("from"), line.split()[1])):
            writer.line(line)
        if standard:
            writer.line()
        if re.search(r"\btorch\.", code):
            writer.line("import torch")
        if re.search(r"(?<![\w.])F\.", code):
            writer.line("import torch.nn.functional as F")
        names = [name for name in ("Tensor", "nn") if re.search(rf"(?<![\w.]){name}\b", code)]
        if names:
            writer.line(f"from torch import {', '.join(names)}")
        for line in torchvision:  # torchvision.ops, for a detector
            writer.line(line)
        writer.line()

    def note(self, span: Span) -> str:
        """The `# file:line` comment that traces an emitted line back to the spec, when asked for."""
        if not self.trace:
            return ""
        # Relative to the spec's folder, so that the body does not depend on where `build` ran.
        return f"  # {escaped(os.path.relpath(span.file, os.path.dirname(self.network.spec_path) or '.'))}:{span.line}"

    def use_helper(self, op: Op, attrs: dict) -> None:
        if op.helper is not None and op.needs_helper(attrs):
            self.helpers.setdefault(*op.helper)

    # ------------------------------------------------------------ constructors

    def block_class(self, name: str) -> "BlockClass":
        if name not in self.block_classes:
            block = self.network.blocks[name]
            self.claim_module_name(block.class_name, f"the class of block '{name}'")
            generator = BlockClass(self, self.block_irs.block(name))
            self.block_classes[name] = generator
            self.classes[name] = generator.source()  # inner blocks register first, so they come first
        return self.block_classes[name]

    def concrete_construct(self, node: Node) -> str:
        """Source that constructs the module of a concrete IR node."""
        if node.is_call:
            child = node.child
            assert child is not None, f"call '{node.name}' without its module"  # lint() checks it
            if child.kind == "sequence":
                return self.nn_sequential([(n.name, self.member_construct(n)) for n in child.nodes])
            if child.kind == "group":
                self.classes.setdefault(f"group {child.path}", self.concrete_class(child))
                return f"{child.class_name}()"
            assert child.block is not None, f"'{child.path}' is an instance of no block"
            return self.block_class(child.block).instance(child)
        op = OPS[node.op]
        if not op.module:
            return module_form(op)
        self.use_helper(op, node.attrs)
        # RoI Align names its levels by position
        return op.emit(node_args(node, inputs=len(node.inputs), needs=self.needs))

    def member_construct(self, node: Node) -> str:
        """A member of an nn.Sequential: a module (a bare parameter, as `scale` is, cannot be one)."""
        assert node.is_call or OPS[node.op].applies is None, f"'{node.op}' in nn.Sequential"
        return self.concrete_construct(node)

    def nn_sequential(self, children: list[tuple[str, str]]) -> str:
        """nn.Sequential of (name, construct) pairs: positional when named 0, 1, 2 …, else an OrderedDict."""
        if all(name == str(index) for index, (name, _) in enumerate(children)):
            return call_lines("nn.Sequential", fold_runs([construct for _, construct in children]))
        self.ordered_dict = True
        pairs = [f"({ex.python_literal(name)}, {construct})" for name, construct in children]
        return call_lines("nn.Sequential", [call_lines("OrderedDict", [call_lines("", pairs, brackets="[]")])])

    # ------------------------------------------------------------ the network class

    def network_class(self) -> str:
        return self.concrete_class(self.network.root, self.network.doc, self.network.methods, self.network.params,
                                   self.detector)

    def concrete_class(self, module: Module, doc: str = "", methods: Sequence[Method] = (),
                       params: dict | None = None, detector=None) -> str:
        """A class whose every value is known: the network, or a `group` inside it."""
        writer = LineWriter()
        writer.line(f"class {module.class_name}(nn.Module):")
        writer.indent()
        if doc:
            writer.block(docstring_source(doc, writer.level))
            writer.line()
        arguments = [f"{name}: {type(value).__name__} = {ex.python_literal(value)}"
                     for name, value in (params or {}).items()]
        writer.line(f"def __init__({', '.join(['self', *arguments])}) -> None:")
        writer.indent()
        writer.line("super().__init__()")
        steps = []
        reuse = StatelessModules()
        lists = ModuleLists()
        plan = self.network.init if module is self.network.root else module.init
        built = emit_build_order(self, module, plan, writer) if plan is not None else {}
        for node in module.nodes:
            op = OPS.get(node.op)
            owns_module = node.is_call or (op is not None and op.module)
            attribute = node.shares or node.name
            if owns_module and node.shares is None:
                construct = built.get(node.name) or self.concrete_construct(node)
                attribute = reuse.attribute(node.item is None or node.item.name is not None, op, node.name,
                                            construct)
                if attribute == node.name:
                    lists.assign(writer, node.name, construct, self.note(node.span))
            elif node.shares is None:
                lists.hold_place(writer, node.name)
            in_place = None
            if node.is_call:
                template = module_call(attribute, len(node.inputs))
            else:
                assert op is not None, f"'{node.name}': unknown op '{node.op}'"  # lint() checks it
                args = node_args(node, inputs=len(node.inputs), needs=self.needs)
                template = call_template(op, attribute, args)
                in_place = op.emit_in_place(args) if node.in_place else None
                self.use_helper(op, node.attrs)
            steps.append(make_step(node.name, op, [module.value(s) for s in node.inputs], template, node.attrs,
                                   child=node.child, named=node.item is not None and node.item.name is not None,
                                   in_place=in_place))
        lists.finish(writer)
        if module is self.network.root:
            emit_init(self, writer)
        elif module.init is not None:
            emit_initialisation(self, module.init, writer)
        if detector is not None:
            writer.line()
            for line in detector.init_lines:
                writer.line(line)
            self.typing.update(detector.typing)
        writer.outdent()
        writer.line()
        forward_name = detector.forward_name if detector else "forward"
        if forward_name is not None:  # a two-stage detector's layers do not form one chain: none
            outputs = [module.value(o) for o in module.outputs]
            self.forward_signature(writer, module.inputs, outputs, module.output_keys, method=forward_name)
            writer.indent()
            emit_forward(writer, module.inputs, steps, outputs, module.output_keys, reserved=self.reserved,
                         chain="x")
        for method in methods:
            writer.outdent()
            writer.line()
            part = method_steps(steps, method.source, method.target)
            self.forward_signature(writer, ["input"], [method.target], None, method=method.name)
            writer.indent()
            emit_forward(writer, ["input"], part, [method.target], None, reserved=self.reserved, chain="x")
        if module is self.network.root:
            emit_transfer_methods(self, writer)
        if detector is not None:
            if forward_name is not None:
                writer.outdent()
                writer.line()
            writer.block(detector.methods.rstrip("\n"))
        return writer.source()

    def forward_signature(self, writer: LineWriter, inputs: list[str], outputs: list[str],
                          output_keys: list[str] | None, method: str = "forward") -> None:
        returns = return_type(outputs, output_keys)
        for name in ("Dict", "Tuple"):
            if returns.startswith(name):
                self.typing.add(name)
        _, var = forward_names(inputs, self.reserved)
        params = ", ".join(f"{var[name]}: Tensor" for name in inputs)
        writer.line(f"def {method}(self, {params}) -> {returns}:")


def node_args(node: Node, inputs: int | None = None, needs: set[str] | None = None) -> CodeArgs:
    """A concrete node's attributes for code: literals, and the constructor's parameters where it reads them
    (`nn.Linear(2048, num_classes)`); those have no concrete value, so each is always written out."""
    values = {k: v for k, v in node.attrs.items() if k not in node.exprs}
    if inputs is not None:
        values["inputs"] = inputs
    sources = {k: ex.to_python(node.exprs[k], needs=needs) if k in node.exprs else ex.python_literal(v, needs)
               for k, v in node.attrs.items()}
    return CodeArgs(values, sources)
