"""The graph IR: a tree of modules, each holding a small dataflow graph of nodes.

Node kinds (``Node.op``):

* an op name from the registry (``conv``, ``add`` …): a leaf operation;
* ``"call"``: applies a child ``Module`` (a block instance, a group or a sequence);
  ``Node.child`` is that module. Two call nodes may apply one module
  (shared weights); only the first owns it.

Every node has a local ``name`` that is unique in its module: the value name
used by ``from`` references and, for ops with state, the attribute name in the
emitted ``nn.Module`` — so spec names choose the ``state_dict`` keys. Nodes are
kept in spec order, which is a topological order (``lint`` checks it).
Shapes exclude the batch dimension and are those of the spec's default input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, TypeVar

from ..errors import Span
from ..ops import OPS, Shape

T = TypeVar("T")


@dataclass
class Node:
    name: str
    op: str
    attrs: dict[str, Any]
    inputs: list[str]
    span: Span
    shape: Shape | None = None
    child: "Module | None" = None
    shares: str | None = None  # name of the node whose module this one reuses
    item: Any = None  # the spec Item it came from, for code generation and --explain
    origins: dict[str, Span | str] = field(default_factory=dict)
    # Why lowering failed here: a stand-in node for a failed layer keeps its errors, for diagrams.
    errors: list[Any] = field(default_factory=list)
    # The indices of the repeats inside a block that this node is a copy of ({"i": 2}), so that the
    # block's class, written once, can be checked against every copy.
    indices: dict[str, int] = field(default_factory=dict)
    # Attributes that read a parameter of the network's constructor, as expressions of those parameters.
    exprs: dict[str, Any] = field(default_factory=dict)
    # Written so that it overwrites its first input (`out += identity`): `inplace.py` decides where it is safe.
    in_place: bool = False

    @property
    def is_call(self) -> bool:
        return self.op == "call"

    def called_module(self) -> Module:
        """The module a call node applies: every call node has one (lint checks it)."""
        if self.child is None:
            raise ValueError(f"'{self.name}' ({self.op}) is not a call node: it applies no module")
        return self.child

    def output_names(self) -> list[str] | None:
        """The keys of a node's several outputs, read as `name.key`: a block's that returns several, or an
        op's that does (a split); None for a node with one output."""
        if self.child is not None:
            return self.child.output_names() if len(self.child.outputs) > 1 else None
        op = OPS.get(self.op)
        return op.output_names(self.attrs) if op is not None else None

    def output_shape(self, key: str) -> Shape | None:
        """The shape of output `key` of a node with several."""
        if self.child is not None:
            return self.child.value_shape(self.child.outputs[self.child.output_names().index(key)])
        if self.shape is None:
            return None
        pieces, names = OPS[self.op].pieces(self.attrs, self.shape), self.output_names()
        if pieces is None or names is None:
            raise ValueError(f"'{self.name}' ({self.op}) has one output: it has no output '{key}'")
        return pieces[names.index(key)]


@dataclass
class Module:
    """A container: the network, a block instance, a group, or a sequence (what a `seq` or a named `repeat`
    lowers to: layers each reading the one before, emitted as an nn.Sequential)."""

    path: str  # dotted attribute path from the network; "" for the network itself
    kind: str  # "network" | "block" | "group" | "sequence"
    class_name: str
    span: Span
    block: str | None = None  # block definition name, for kind "block"
    args: dict[str, Any] = field(default_factory=dict)  # resolved block arguments (in_channels included)
    inputs: list[str] = field(default_factory=lambda: ["x"])
    input_shapes: list[Shape | None] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    output_keys: list[str] | None = None  # names of a dict output, when the outputs are named
    aliases: dict[str, str] = field(default_factory=dict)  # disabled optional node -> the value it passes on
    init: Any = None  # training.InitPlan of a group's own `init`, run at the end of its constructor

    def node(self, name: str) -> Node | None:
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.nodes):
            index = self.__dict__["_index"] = {node.name: node for node in self.nodes}
        return index.get(name)

    def add(self, node: Node) -> None:
        self.nodes.append(node)
        index = self.__dict__.get("_index")
        if index is not None and len(index) == len(self.nodes) - 1:
            index[node.name] = node
        heads = self.__dict__.get("_heads")
        if heads is not None and heads[0] == len(self.nodes) - 1:
            self.__dict__["_heads"] = (len(self.nodes), heads[1])
            if "." in node.name:
                heads[1].setdefault(node.name.partition(".")[0], []).append(node.name)

    def members(self, head: str) -> list[str]:
        """The layers held in the module list or dict `head` (`inner_blocks.0` …), in order; kept up to date
        by `add`, so that checking each new name costs no scan of the module."""
        heads = self.__dict__.get("_heads")
        if heads is None or heads[0] != len(self.nodes):
            found: dict[str, list[str]] = {}
            for node in self.nodes:
                if "." in node.name:
                    found.setdefault(node.name.partition(".")[0], []).append(node.name)
            heads = self.__dict__["_heads"] = (len(self.nodes), found)
        return heads[1].get(head, [])

    def value(self, name: str) -> str:
        """The value a reference denotes, following disabled optional nodes."""
        seen = set()
        while name in self.aliases and name not in seen:
            seen.add(name)
            name = self.aliases[name]
        return name

    def value_shape(self, name: str) -> Shape | None:
        name = self.value(name)
        if name in self.inputs:
            return self.input_shapes[self.inputs.index(name)] if self.input_shapes else None
        node = self.node(name)
        if node is None:
            found = self.output_of(name)
            if found is not None:
                node, key = found
                return node.output_shape(key)
        return node.shape if node else None

    def output_names(self) -> list[str]:
        """Keys of the outputs: the mapping's keys, or positions "0", "1", … for a list."""
        return self.output_keys or [str(index) for index in range(len(self.outputs))]

    def output_of(self, name: str) -> "tuple[Node, str] | None":
        """For `head.key`, naming one output of a layer with several: (that layer's node, key)."""
        if "." not in name:
            return None
        head, key = name.rsplit(".", 1)
        node = self.node(self.value(head))
        if node is None:
            return None
        keys = node.output_names()
        return (node, key) if keys is not None and key in keys else None

    def is_multi(self, name: str) -> bool:
        node = self.node(self.value(name))
        return node is not None and node.output_names() is not None

    def output_shapes(self) -> list[Shape | None]:
        return [self.value_shape(name) for name in self.outputs]


@dataclass(frozen=True)
class Method:
    """An extra method of the network class: runs the layers from value `source` to value `target`."""

    name: str
    source: str
    target: str
    span: Span


@dataclass
class Network:
    name: str  # the spec name, also the factory function's name
    root: Module
    input_shape: Shape
    spec_path: str
    spec_hash: str
    doc: str = ""
    blocks: dict[str, Any] = field(default_factory=dict)  # BlockDef by name, for code generation
    warnings: list[Any] = field(default_factory=list)  # Diagnostics of severity "warning" from lowering
    methods: list[Method] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # the network class's constructor arguments, defaults
    name_span: Span | None = None  # where the spec's name and class are written, for codegen errors
    class_span: Span | None = None
    detection: Any = None  # archspec.detection.spec.Detection, for a spec with a `detect:` section
    two_stage: Any = None  # archspec.detection.two_stage.TwoStage, for a two-stage detector (Faster R-CNN)
    init: Any = None  # training.InitPlan: how the weights start, from the spec's `init`
    block_inits: dict[str, Any] = field(default_factory=dict)  # block name -> training.InitPlan of its `init`
    transfer: Any = None  # training.TransferPlan: fine-tuning, from the spec's `transfer`
    files: list[str] = field(default_factory=list)  # every spec file read, as displayed; outputs never replace them

    def modules(self) -> Iterator[Module]:
        """Every module once, parents before children (shared modules are not repeated)."""
        stack = [self.root]
        while stack:
            module = stack.pop()
            yield module
            stack.extend(reversed([n.child for n in module.nodes if n.child is not None and n.shares is None]))


def all_known(values: list[T | None]) -> list[T] | None:
    """The values when every one is known (the shapes of a layer's inputs, their channels); None when one is
    not (a value whose layer failed)."""
    known = [value for value in values if value is not None]
    return known if len(known) == len(values) else None


def lint(network: Network) -> list[str]:
    """Check the IR's invariants; returns problems (empty when sound). A failure is a compiler bug.

    Names are unique in their module, every op is registered, every call has its module, and every
    input is defined before it is read, so the node order is a topological order and the graph acyclic.
    """
    problems = []
    for module in network.modules():
        where = module.path or network.name
        seen = set(module.inputs)
        for node in module.nodes:
            if node.name in seen:
                problems.append(f"{where}: name '{node.name}' is defined twice")
            if node.op != "call" and node.op not in OPS:
                problems.append(f"{where}.{node.name}: unknown op '{node.op}'")
            if node.is_call and node.child is None:
                problems.append(f"{where}.{node.name}: call without a module")
            for source in node.inputs:
                defined = module.value(source) in seen or (module.output_of(source) or (None,))[0] is not None
                if not defined:
                    problems.append(f"{where}.{node.name}: input '{source}' is not defined before it")
            seen.add(node.name)
        for output in module.outputs:
            if module.value(output) not in seen and module.output_of(output) is None:
                problems.append(f"{where}: output '{output}' is not defined")
        # Every input defined before use means the node order is topological: no cycle is possible.
    return problems
