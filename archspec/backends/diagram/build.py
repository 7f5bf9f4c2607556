"""The structure of a diagram at a level of detail, read from the IR's module tree.

* ``layer``: every layer is a box; blocks and sequences are clusters around theirs.
* ``block``: every block is one box; a residual block is drawn as its box, a ``+``
  and the shortcut as an arc around the box (labelled with its projection, if any);
  a layer outside blocks forms one box with the normalisation, activation and
  reshaping layers that follow it.
* ``stage``: every top-level item is one box, and repeated blocks fold into
  "Bottleneck ×6"; a long sequence of layers (VGG's ``features``) is cut into its
  stages after each pooling layer; a chain of top-level layers (a stem) is one box.

Groups and blocks with several outputs (a feature pyramid) are sub-networks
rather than steps of a chain: they are always opened, as clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ...ir.graph import Module, Network, Node
from ...ops import OPS
from ...ops.base import Weightless
from .detector import add_two_stage
from .model import INPUT_ID, Box, Cluster, Diagram, Edge

LEVELS = ("stage", "block", "layer")

# Layers that follow another on its line ("conv 3×3, 64 · bn · relu") and join its box at the block level.
FOLLOWER_CATEGORIES = frozenset({"norm", "activation", "regularise", "reshape"})
MAX_PATTERN = 3  # longest run of lines that folds into "(…) ×N"


@dataclass(frozen=True)
class Port:
    box: str  # the box that produces a value
    value: str  # the value's flat path


def build_diagram(network: Network, level: str) -> Diagram:
    """The boxes, edges and clusters of `network` at `level` ("stage", "block" or "layer").

    >>> from archspec.compiler import compile_spec
    >>> diagram = build_diagram(compile_spec("specs/resnet/resnet50.yaml"), "stage")
    >>> [box.lines for box in diagram.boxes if box.title == "layer3"]
    [['Bottleneck ×6']]
    """
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    return _Builder(network, level).build()


class _Builder:
    def __init__(self, network: Network, level: str):
        self.network = network
        self.level = level
        self.diagram = Diagram(network.name, level)
        self.owners: dict[tuple[int, str], Box] = {}  # (module, node name) -> its box, for shared weights
        self.runs: dict[str, list[Node]] = {}  # box id -> the layers drawn in it, when it is a run of layers
        self.edge_keys: set[tuple[str, str, str]] = set()
        # Modules applied again with shared weights: drawn as one box (above the layer level), so once.
        self.shared_modules = {id(node.child) for module in network.modules() for node in module.nodes
                               if node.shares is not None and node.child is not None}

    def build(self) -> Diagram:
        root = self.network.root
        self.diagram.boxes.append(Box(INPUT_ID, "input", [], "io", kind="input", output="input"))
        env = {name: Port(INPUT_ID, "input") for name in root.inputs}
        self.walk(root, "", env, None)
        self.describe_runs()
        keyed = len(root.outputs) > 1
        if self.network.two_stage is not None:  # its outputs are what the proposals and losses read
            ports = {key: (env[root.value(name)].box, env[root.value(name)].value)
                     for key, name in zip(root.output_names(), root.outputs)}
            add_two_stage(self.diagram, self.network, ports, self.add_edge)
            return self.diagram
        for key, name in zip(root.output_names(), root.outputs):
            port = env.get(root.value(name))
            if port is None:  # in a spec with errors, an output can name what failed to be built
                continue
            box_id = f":output.{key}" if keyed else ":output"
            self.diagram.boxes.append(Box(box_id, key if keyed else "output", [], "io", kind="output",
                                          output=port.value))
            self.add_edge(Edge(port.box, box_id, port.value))
        return self.diagram

    # ------------------------------------------------------------ walking the module tree

    def walk(self, module: Module, prefix: str, env: dict[str, Port], cluster: str | None) -> None:
        readers = _readers(module)
        run: Box | None = None  # the box the next layer may join
        for node in module.nodes:
            path = f"{prefix}.{node.name}" if prefix else node.name
            sources = [env[module.value(source)] for source in node.inputs if module.value(source) in env]
            owner = self.owners.get((id(module), node.shares)) if node.shares else None
            if owner is not None:
                owner.shared += 1
                self.connect(sources, owner.id)
                self.bind(env, node, Port(owner.id, path), path)
                run = None
            elif node.is_call and self.opens(node):
                self.open(node, path, sources, env, cluster)
                run = None
            elif run is not None and self.joins(run, node, sources, readers):
                self.extend(run, node, path, env)
            else:
                box = self.box(node, path, cluster, sources, env)
                self.owners[(id(module), node.name)] = box
                run = None
                if not node.errors and (not node.is_call or self.folds_blocks(node)):
                    run, self.runs[box.id] = box, [node]

    def opens(self, node: Node) -> bool:
        """Whether a container is drawn as a cluster of its parts rather than as one box."""
        child = node.called_module()
        if not child.outputs:  # a block that failed before it had any: a box, which can carry its errors
            return False
        if id(child) in self.shared_modules and self.level != "layer":
            return False
        if child.kind == "group" or len(child.outputs) > 1 or self.level == "layer":
            return True
        if self.level == "block":
            return child.kind != "block"
        return child.kind == "sequence" and _segments(child) > 1

    def open(self, node: Node, path: str, sources: list[Port], env: dict[str, Port], cluster: str | None) -> None:
        child = node.called_module()
        title = path if child.kind == "sequence" else f"{path} · {child.class_name}"
        self.diagram.clusters.append(Cluster(f"cluster_{path}", title, cluster))
        child_env = dict(zip(child.inputs, sources))
        self.walk(child, path, child_env, f"cluster_{path}")
        outputs = [child_env.get(child.value(name)) for name in child.outputs]
        if len(outputs) == 1 and outputs[0] is not None:
            env[node.name] = Port(outputs[0].box, path)
        for key, port in zip(child.output_names(), outputs):
            if len(outputs) > 1 and port is not None:
                env[f"{node.name}.{key}"] = Port(port.box, f"{path}.{key}")

    def joins(self, run: Box, node: Node, sources: list[Port], readers: dict[str, int]) -> bool:
        """Whether a layer is drawn in the box of the layers before it: it reads them and nothing else does.
        At the stage level, consecutive blocks of one class and arguments fold into one box as well."""
        if self.level == "layer" or node.shares or node.errors or len(sources) != 1:
            return False
        members = self.runs[run.id]
        if run.output is None or sources[0] != Port(run.id, run.output) or readers.get(members[-1].name, 0) != 1:
            return False
        if members[0].is_call or node.is_call:
            return self.folds_blocks(node) and members[0].is_call and _same_block(members[0], node, self.network)
        if self.level == "block" or _segment_ended(members):
            return OPS[node.op].category in FOLLOWER_CATEGORIES
        return True

    def folds_blocks(self, node: Node) -> bool:
        return self.level == "stage" and node.is_call and node.called_module().kind == "block" and not node.shares

    def extend(self, run: Box, node: Node, path: str, env: dict[str, Port]) -> None:
        self.runs[run.id].append(node)
        run.output = path
        env[node.name] = Port(run.id, path)
        if node.is_call:
            run.leaves += [f"{path}.{leaf}" for leaf in _leaf_paths(node.called_module())]
        else:
            run.leaves.append(path)

    def describe_runs(self) -> None:
        """What each box that grew into a run of layers or blocks says (once, when the walk is done)."""
        for box_id, members in self.runs.items():
            if len(members) < 2:
                continue
            box = self.diagram.box(box_id)
            if members[0].is_call:
                arguments = _arguments(members[0].called_module(), self.network)
                class_name = members[0].called_module().class_name
                box.lines = [f"{class_name} ×{len(members)}"] + ([arguments] if arguments else [])
                box.title = f"{_title(box_id, box.cluster)} … {members[-1].name}"
            else:
                box.lines = _layer_lines(members)
                box.title = _run_title(members)

    # ------------------------------------------------------------ boxes

    def box(self, node: Node, path: str, cluster: str | None, sources: list[Port], env: dict[str, Port]) -> Box:
        if node.is_call:
            box = self.container_box(node, path, cluster)
        else:
            box = Box(path, _given_name(node), _layer_lines([node]), _category(node), cluster, leaves=[path],
                      output=path, errors=list(node.errors))
        self.diagram.boxes.append(box)
        self.connect(sources, box.id)
        residual = _residual(node.called_module()) if node.is_call and self.level == "block" else None
        if residual is None:
            self.bind(env, node, Port(box.id, path), path)
        else:
            env[node.name] = self.shortcut(box, path, node, residual, sources)
        return box

    def shortcut(self, box: Box, path: str, node: Node, residual: tuple[str, list[Node], list[Node]],
                 sources: list[Port]) -> Port:
        """A residual block's "+" after its box (which draws the block at `path`), and its shortcut as an arc
        from the block's input to the "+", labelled with the projection on it; returns the port of the
        block's output."""
        skip_input, skip_nodes, after = residual
        merge = Box(f"{box.id}:add", "", [" · ".join(["+"] + [OPS[n.op].label(n.attrs) for n in after])],
                    "merge", box.cluster, kind="merge", output=path)
        self.diagram.boxes.append(merge)
        self.add_edge(Edge(box.id, merge.id, path))
        position = node.called_module().inputs.index(skip_input)
        if position < len(sources):
            source = sources[position]
            note = " · ".join(_layer_lines(_flat_nodes(skip_nodes)))
            self.add_edge(Edge(source.box, merge.id, source.value, "skip", note))
        return Port(merge.id, path)

    def container_box(self, node: Node, path: str, cluster: str | None) -> Box:
        child = node.called_module()
        leaves = [f"{path}.{leaf}" for leaf in _leaf_paths(child)]
        errors = [error for inner in _all_nodes(child) for error in inner.errors]
        if child.kind == "block":
            arguments = _arguments(child, self.network)
            lines = [child.class_name] + ([arguments] if arguments else [])
        elif all(not inner.is_call for inner in child.nodes):
            lines = _layer_lines(child.nodes)
        else:
            lines = _fold([_describe(inner) for inner in child.nodes])
        if node.shares:
            lines.append(f"the weights of {node.shares}")
        return Box(path, _title(path, cluster), lines, _container_category(child), cluster, leaves=leaves, output=path,
                   errors=errors)

    def connect(self, sources: list[Port], target: str) -> None:
        """Edges from what a box reads: the first input is the main path, any other a skip."""
        for position, port in enumerate(sources):
            self.add_edge(Edge(port.box, target, port.value, "main" if position == 0 else "skip"))

    def add_edge(self, edge: Edge) -> None:
        key = (edge.source, edge.target, edge.value)
        if key not in self.edge_keys:  # a box that reads one value twice (x + x) gets one edge
            self.edge_keys.add(key)
            self.diagram.edges.append(edge)

    def bind(self, env: dict[str, Port], node: Node, port: Port, path: str) -> None:
        env[node.name] = port
        for key in node.output_names() or ():
            env[f"{node.name}.{key}"] = Port(port.box, f"{path}.{key}")


# ---------------------------------------------------------------- what a box says


def _title(path: str, cluster: str | None) -> str:
    """A box's path without its cluster's (`layer4` in the cluster `body`), unless that leaves an index."""
    prefix = cluster.removeprefix("cluster_") + "." if cluster else ""
    relative = path.removeprefix(prefix)
    return path if relative.split(".")[0].isdigit() else relative


def _given_name(node: Node) -> str:
    """The layer's name when the spec wrote one (not one archspec made up, like `relu_1` or `3`)."""
    item = node.item
    named = item is not None and getattr(item, "name", None) is not None
    return node.name if named else ""


def _same_block(first: Node, other: Node, network: Network) -> bool:
    return (first.called_module().class_name == other.called_module().class_name
            and _arguments(first.called_module(), network) == _arguments(other.called_module(), network))


def _run_title(nodes: list[Node]) -> str:
    """A run of layers that fits on one line is titled by its first layer's name; a longer one by none."""
    return _given_name(nodes[0]) if len(_layer_lines(nodes)) == 1 else ""


def _layer_lines(nodes: Iterable[Node]) -> list[str]:
    """One line per layer, with the normalisation and activation that follow it on the same line."""
    lines: list[str] = []
    for node in nodes:
        if node.errors:
            lines.append(f"{node.item.op if node.item is not None else node.op} (failed)")
            continue
        op = OPS[node.op]
        label = op.label(node.attrs)
        if lines and op.category in FOLLOWER_CATEGORIES:
            lines[-1] += f" · {label}"
        else:
            lines.append(label)
    return _fold(lines)


def _fold(lines: list[str]) -> list[str]:
    """Consecutive repeats of one line, or of a few lines, become one line with "×N"."""
    folded, start = [], 0
    while start < len(lines):
        width, count = 1, 1
        for size in range(1, MAX_PATTERN + 1):
            unit = lines[start:start + size]
            repeats = 1
            while lines[start + repeats * size:start + (repeats + 1) * size] == unit:
                repeats += 1
            if repeats > 1 and size * repeats > width * count:
                width, count = size, repeats
        unit = lines[start:start + width]
        if count == 1:
            folded.append(unit[0])
        elif width == 1 and " · " not in unit[0]:
            folded.append(f"{unit[0]} ×{count}")
        else:
            folded.append(f"({' → '.join(unit)}) ×{count}")
        start += width * count
    return folded


def _describe(node: Node) -> str:
    """A one-line description of an item inside a folded container."""
    if node.is_call and node.called_module().kind == "sequence":
        return " · ".join(_layer_lines(_flat_nodes([node])))
    if node.is_call:
        return node.called_module().class_name
    if node.errors:
        return f"{node.name} (failed)"
    return OPS[node.op].label(node.attrs)


def _arguments(module: Module, network: Network) -> str:
    """A block's arguments that differ from its definition's defaults: "planes 128, stride 2"."""
    definition = network.blocks.get(module.block) if module.block is not None else None
    params = definition.params if definition is not None else {}
    shown = {key: value for key, value in module.args.items()
             if key != "in_channels" and not (key in params and params[key].default == value)}
    return ", ".join(f"{key} {value}" for key, value in shown.items())


def _category(node: Node) -> str:
    return "error" if node.errors else OPS[node.op].category if node.op in OPS else "other"


def _container_category(module: Module) -> str:
    """Blocks and stages are coloured by their first layer with weights (a conv stage, a linear head)."""
    nodes = [node for node in _all_nodes(module) if not node.is_call and not node.errors]
    for node in nodes:
        # Not `params(attrs)`: in a spec with errors, a layer's inferred attributes may be missing.
        if not isinstance(OPS[node.op], Weightless):
            return OPS[node.op].category
    return _category(nodes[0]) if nodes else "other"


# ---------------------------------------------------------------- structure helpers


def _readers(module: Module) -> dict[str, int]:
    """How many times each value of a module is read, its outputs included."""
    counts: dict[str, int] = {}
    for node in module.nodes:
        for source in node.inputs:
            counts[module.value(source)] = counts.get(module.value(source), 0) + 1
    for name in module.outputs:
        counts[module.value(name)] = counts.get(module.value(name), 0) + 1
    return counts


def _all_nodes(module: Module) -> Iterable[Node]:
    for node in module.nodes:
        yield node
        if node.child is not None and node.shares is None:
            yield from _all_nodes(node.child)


def _flat_nodes(nodes: Iterable[Node]) -> list[Node]:
    """The layers of some nodes, containers opened."""
    return [leaf for node in nodes for leaf in (_flat_nodes(node.called_module().nodes) if node.is_call else [node])]


def _leaf_paths(module: Module, prefix: str = "") -> list[str]:
    paths = []
    for node in module.nodes:
        path = f"{prefix}.{node.name}" if prefix else node.name
        if node.child is not None:
            paths.extend(_leaf_paths(node.child, path))
        else:
            paths.append(path)
    return paths


def _segment_ended(nodes: list[Node]) -> bool:
    """A run of layers at the stage level ends with a pooling layer (and what follows it), as VGG's
    stages do; after it only normalisation, activation and reshaping layers join."""
    for node in reversed(nodes):
        category = OPS[node.op].category
        if category == "pool":
            return True
        if category not in FOLLOWER_CATEGORIES:
            return False
    return False


def _segments(module: Module) -> int:
    """How many stage boxes a sequence of layers is cut into at the stage level."""
    count = 1
    run: list[Node] = []
    for node in module.nodes:
        if node.is_call or node.errors:
            return 1
        if run and _segment_ended(run) and OPS[node.op].category not in FOLLOWER_CATEGORIES:
            count, run = count + 1, []
        run.append(node)
    return count


def _residual(module: Module | None) -> tuple[str, list[Node], list[Node]] | None:
    """For a block that ends in `add(main, shortcut)` and a few element-wise layers: the block input the
    shortcut reads, the layers on the shortcut (a projection) and the layers after the add."""
    if module is None or module.kind != "block":
        return None
    adds = [index for index, node in enumerate(module.nodes) if node.op == "add" and len(node.inputs) == 2]
    if not adds:
        return None
    index = adds[-1]
    add = module.nodes[index]
    after = module.nodes[index + 1:]
    chain = add.name
    for node in after:
        if node.is_call or len(node.inputs) != 1 or module.value(node.inputs[0]) != chain:
            return None
        chain = node.name
    if module.outputs != [chain] and not (not after and module.outputs == [add.name]):
        return None
    cones = [_cone(module, module.value(source)) for source in add.inputs]
    for position in (1, 0):
        nodes, starts = cones[position]
        other_nodes, _ = cones[1 - position]
        if len(starts) == 1 and not set(n.name for n in nodes) & set(n.name for n in other_nodes) \
                and len(nodes) < len(other_nodes):
            return starts[0], nodes, after
    return None


def _cone(module: Module, value: str) -> tuple[list[Node], list[str]]:
    """The nodes a value depends on inside a module, in order, and the module inputs it reaches."""
    needed, inputs, stack = set(), set(), [value]
    while stack:
        name = stack.pop()
        if name in module.inputs:
            inputs.add(name)
            continue
        node = module.node(name)
        if node is None or name in needed:
            continue
        needed.add(name)
        stack.extend(module.value(source) for source in node.inputs)
    return [node for node in module.nodes if node.name in needed], sorted(inputs)
