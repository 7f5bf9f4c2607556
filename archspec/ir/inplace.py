"""In-place activations, chosen where they are safe, as torchvision writes them."""

from __future__ import annotations

from ..ops import OPS
from .graph import Network


def choose_inplace(network: Network) -> None:
    """Make activations in-place where nothing else reads their input, as torchvision writes them.

    An in-place ReLU overwrites its input, so it is safe only when the input is
    produced in the same module by an op that autograd does not need the
    output of, and no other layer (or output) reads it.
    """
    for module in network.modules():
        readers: dict[str, int] = {}
        for node in module.nodes:
            for source in node.inputs:
                value = module.value(source)
                readers[value] = readers.get(value, 0) + 1
        for output in module.outputs:
            readers[module.value(output)] = readers.get(module.value(output), 0) + 1
        shared = {node.shares for node in module.nodes if node.shares is not None}
        for node in module.nodes:
            op = OPS.get(node.op)
            if op is None or op.group != "activation" or node.origins.get("inplace") != "op default":
                continue
            if node.shares is not None or node.name in shared:
                continue
            source = module.value(node.inputs[0])
            producer = module.node(source)
            overwritable = producer is not None and producer.op in OPS and not OPS[producer.op].output_for_backward
            if overwritable and readers.get(source) == 1:
                node.attrs["inplace"] = True
                node.origins["inplace"] = "in-place: nothing else reads the input"
