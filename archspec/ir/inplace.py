"""In-place activations and sums, chosen where they are safe, as torchvision writes them."""

from __future__ import annotations

from ..errors import Diagnostic, Span
from ..ops import OPS
from .graph import Module, Network, Node


def choose_inplace(network: Network) -> list[Diagnostic]:
    """Make activations in-place where nothing else reads their input, as torchvision writes them; returns
    an error for each `inplace: true` of the spec that would overwrite a value another layer still reads.

    An in-place ReLU overwrites its input, so it is safe only when the input is
    produced in the same module by an op that autograd does not need the
    output of, and no other layer (or output) reads it.
    """
    errors = []
    for module in network.modules():
        readers = _readers(module)
        errors += _unsafe_inplace(module, readers)
        shared = {node.shares for node in module.nodes if node.shares is not None}
        for node in module.nodes:
            op = OPS.get(node.op)
            if op is None or op.category != "activation" or node.origins.get("inplace") != "op default":
                continue
            if node.shares is not None or node.name in shared:
                continue
            source = module.value(node.inputs[0])
            producer = module.node(source)
            overwritable = producer is not None and producer.op in OPS and not OPS[producer.op].output_for_backward
            if overwritable and readers.get(source) == 1:
                node.attrs["inplace"] = True
                node.origins["inplace"] = "in-place: nothing else reads the input"
        _choose_in_place_sums(module, readers)
    return errors


def _choose_in_place_sums(module: Module, readers: dict[str, int]) -> None:
    """`out += identity` where the sum may overwrite its first input, as torchvision's residual blocks write
    it: the op's backward needs none of its inputs (`Op.in_place`), and the first input is a fresh tensor
    that nothing else reads and whose producer's backward does not need it (the test of an in-place
    activation), of the sum's own shape (no broadcasting into it). A producer under `if` is left alone: where
    it is off, its value is its own input, which the caller still holds."""
    for node in module.nodes:
        op = OPS.get(node.op)
        if op is None or not op.in_place or node.shares is not None or _optional(node) or node.shape is None:
            continue
        first = module.value(node.inputs[0])
        producer = module.node(first)
        if producer is None or producer.op not in OPS or OPS[producer.op].output_for_backward or _optional(producer):
            continue  # not made here, or not fresh: its value is still needed as it is
        others = [module.value(source) for source in node.inputs[1:]]
        if readers.get(first) == 1 and first not in others and producer.shape == node.shape:
            node.in_place = True


def _optional(node: Node) -> bool:
    return node.item is not None and node.item.condition is not None


def _readers(module: Module) -> dict[str, int]:
    """How many layers (and outputs) of the module read each value."""
    readers: dict[str, int] = {}
    for node in module.nodes:
        for source in node.inputs:
            value = module.value(source)
            readers[value] = readers.get(value, 0) + 1
    for output in module.outputs:
        readers[module.value(output)] = readers.get(module.value(output), 0) + 1
    return readers


def _unsafe_inplace(module: Module, readers: dict[str, int]) -> list[Diagnostic]:
    """`conv c1; relu {inplace: true}; add [c1, r]` would add relu(c1) to itself: an `inplace: true` written
    in the spec where another layer or an output reads the same input is an error, at the `inplace`."""
    errors = []
    for node in module.nodes:
        origin = node.origins.get("inplace")
        if node.attrs.get("inplace") is not True or not isinstance(origin, Span) or not node.inputs:
            continue
        source = module.value(node.inputs[0])
        if readers.get(source, 0) > 1:
            errors.append(Diagnostic(
                f"'{node.name}' is in-place, but its input '{source}' is also read elsewhere, which would then "
                f"see '{node.name}'s output instead", origin,
                hint="remove 'inplace: true' (archspec makes a layer in-place by itself where that is safe)"))
    return errors
