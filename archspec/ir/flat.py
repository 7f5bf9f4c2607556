"""A flat view of the IR: every leaf op once per application, with full value paths.

Analysis passes want a plain list of operations in execution order; the
module tree is what code generation wants. Paths are dotted attribute paths
(``layer1.0.conv1``), so they match ``state_dict`` prefixes. A block applied
again with shared weights yields its leaves again, marked as not owning their
parameters, so counts see the weights once and the work twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .graph import Module, Network, Node

NETWORK_INPUT = "input"


@dataclass(frozen=True)
class Leaf:
    path: str  # full path of the value this op produces
    node: Node
    inputs: tuple[str, ...]  # full leaf paths (or "input") of the values it reads
    owner: bool  # False for a second application of shared weights
    stage: str  # top-level name it belongs to (`layer2`), for per-stage totals
    block: str  # path of the block or sequence element it belongs to, for per-block totals


@dataclass
class FlatGraph:
    leaves: list[Leaf]
    # Path of every container application (`layer1`, `layer1.0`) -> the leaf path of its output.
    containers: dict[str, str] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)

    def resolve(self, path: str) -> str:
        """The leaf path behind a path that may name a container."""
        return self.containers.get(path, path)


def flatten(network: Network) -> FlatGraph:
    """Every leaf op in execution order, with container outputs mapped to leaves."""
    graph = FlatGraph([])
    env = {name: NETWORK_INPUT for name in network.root.inputs}
    _walk(graph, network.root, "", env, owner=True, stage="", block="")
    graph.outputs = [env[network.root.value(name)] for name in network.root.outputs]
    return graph


def _walk(graph: FlatGraph, module: Module, prefix: str, env: dict[str, str], owner: bool, stage: str,
          block: str) -> None:
    for node in module.nodes:
        path = f"{prefix}.{node.name}" if prefix else node.name
        inputs = tuple(env[module.value(source)] for source in node.inputs)
        node_stage = stage or node.name
        if node.is_call:
            child = node.called_module()
            child_env = dict(zip(child.inputs, inputs))
            child_block = path if child.kind == "block" or module.kind == "sequence" else block
            _walk(graph, child, path, child_env, owner and node.shares is None, node_stage, child_block)
            output = child_env[child.value(child.outputs[0])] if child.outputs else inputs[0]
            graph.containers[path] = output
            env[node.name] = output
            if len(child.outputs) > 1:
                for key, name in zip(child.output_names(), child.outputs):
                    env[f"{node.name}.{key}"] = graph.containers[f"{path}.{key}"] = child_env[child.value(name)]
        else:
            graph.leaves.append(Leaf(path, node, inputs, owner and node.shares is None, node_stage,
                                     block or node_stage))
            env[node.name] = path
            for key in node.output_names() or ():  # a split's pieces, each a value of its own
                env[f"{node.name}.{key}"] = f"{path}.{key}"
