"""In-place activations, chosen where they are safe, as torchvision writes them."""

from __future__ import annotations

from ..ops import OPS
from .graph import Network

# Ops whose output autograd does not keep, so an in-place activation may overwrite it.
_OVERWRITABLE = {"conv", "conv_transpose", "bn", "linear", "add", "concat", "maxpool", "avgpool",
                 "adaptive_avgpool", "adaptive_maxpool"}


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
            if op is None or op.category != "activation" or node.origins.get("inplace") != "op default":
                continue
            if node.shares is not None or node.name in shared:
                continue
            source = module.value(node.inputs[0])
            producer = module.node(source)
            if producer is not None and producer.op in _OVERWRITABLE and readers.get(source) == 1:
                node.attrs["inplace"] = True
                node.origins["inplace"] = "in-place: nothing else reads the input"
