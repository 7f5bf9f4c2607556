"""The spec's parameters that the network class can take as constructor arguments, as torchvision's
constructors take `num_classes` and `dropout`.

A parameter can be an argument when changing it changes nothing but the attributes that read it: it is
read only by number-valued attributes of layers of the network itself (not by a block's arguments, an
`if`, a count, a name, a `from` or `defaults`), and either the attribute is a float (a probability, a
slope: no shape depends on it) or nothing after those layers infers an attribute from their output (a
linear layer's input features would then be wrong). `num_classes` in the last linear
layer and a classifier's dropout probability are such parameters; a width that sets the channels of
later layers, or the depths of the stages, are not: those are the spec's, and a variant changes them.
The analysis is of the spec's values; a class built with others has other shapes and counts.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..ops import OPS
from ..spec import expr as ex
from ..spec.model import ITEM_KEYS, Item, ResolvedSpec
from ..spec.values import parse_expression
from .flat import flatten
from .graph import Network, Node

_NUMBERS = ("int", "float")  # attribute kinds whose code prints an expression as it stands


def expose_params(spec: ResolvedSpec, network: Network) -> None:
    """Set `network.params` (name -> default) and, on each layer reading them, `Node.exprs`."""
    candidates = {name for name, value in spec.params.items()
                  if isinstance(value.value, (int, float)) and not isinstance(value.value, bool)}
    readers: dict[str, list[tuple[Item, str]]] = {}
    for item, key, raw in _expressions(spec):
        for name in _names(raw) & candidates:
            readers.setdefault(name, []).append((item, key))
    for op_attrs in spec.defaults.values():
        for value in op_attrs.values():
            candidates -= _names(value.value)
    readers = {name: found for name, found in readers.items() if name in candidates}
    network.params = {}
    if not readers:
        return
    nodes = _network_nodes(network)
    feeds_inferred = _feeds_inferred(network)

    def free(item: Item, key: str) -> bool:
        """Read only where changing it changes nothing else."""
        if not (_attribute_read(item, key) and _names(item.attrs[key]) <= spec.params.keys() and id(item) in nodes):
            return False
        # A number that is not a count (a probability, a slope, an epsilon) changes no shape.
        return OPS[item.op].attrs[key].kind == "float" or not any(feeds_inferred.get(id(node), True)
                                                                   for node in nodes[id(item)])

    exposed = [name for name in spec.params if name in readers and all(free(*read) for read in readers[name])]
    # In the order the network first reads them, so that the order of the spec's mapping does not matter.
    order = {id(node.item): position for position, node in enumerate(_in_order(network))}
    exposed.sort(key=lambda name: min(order.get(id(item), len(order)) for item, _ in readers[name]))
    network.params = {name: spec.params[name].value for name in exposed}
    values = {name: value.value for name, value in spec.params.items() if name not in exposed}
    for name in exposed:
        for item, key in readers[name]:
            expr = ex.fold(parse_expression(str(item.attrs[key]), item.attrs.value_span(key)), values)
            for node in nodes[id(item)]:
                node.exprs[key] = expr


def _attribute_read(item: Item, key: str) -> bool:
    """Read by a number-valued attribute of an op."""
    if item.kind != "op" or key in ITEM_KEYS or item.share is not None:
        return False
    attr = OPS[item.op].attrs.get(key)
    return attr is not None and attr.kind in _NUMBERS


def _expressions(spec: ResolvedSpec) -> Iterator[tuple[Item, str, Any]]:
    """Every value of the network's items that an expression may read a parameter in, with its key."""
    stack = list(spec.body)
    while stack:
        item = stack.pop()
        stack.extend(item.body)
        for key, raw in item.attrs.items():
            if key != "body":
                yield item, key, raw
        if item.count is not None:
            yield item, "count", item.count


def _names(raw: Any) -> set[str]:
    if isinstance(raw, list):
        return set().union(*(_names(value) for value in raw)) if raw else set()
    if isinstance(raw, dict):
        return set().union(*(_names(value) for value in raw.values())) if raw else set()
    if not isinstance(raw, str):
        return set()
    names = set()
    for part in [raw, *_braced(raw)]:
        try:
            names |= ex.names_in(ex.parse(part))
        except ex.ExprError:
            continue
    return names


def _braced(text: str) -> list[str]:
    """The `{expr}` parts of an interpolated name."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "{":
            depth, start = depth + 1, index + 1
        elif char == "}" and depth:
            depth -= 1
            parts.append(text[start:index])
    return parts


def _network_nodes(network: Network) -> dict[int, list[Node]]:
    """The nodes of the network's own class (its body and the sequences in it), by the item they came from."""
    found: dict[int, list[Node]] = {}
    stack = list(network.root.nodes)
    while stack:
        node = stack.pop()
        found.setdefault(id(node.item), []).append(node)
        if node.child is not None and node.child.kind == "sequence":
            stack.extend(node.child.nodes)
    return found


def _in_order(network: Network) -> Iterator[Node]:
    """The network's own nodes in the order forward runs them (sequences entered where they are)."""
    for node in network.root.nodes:
        yield node
        if node.child is not None and node.child.kind == "sequence":
            stack = [iter(node.child.nodes)]
            while stack:
                inner = next(stack[-1], None)
                if inner is None:
                    stack.pop()
                    continue
                yield inner
                if inner.child is not None and inner.child.kind == "sequence":
                    stack.append(iter(inner.child.nodes))


def _feeds_inferred(network: Network) -> dict[int, bool]:
    """For each leaf node: whether some layer after it (on a path from its output) infers an attribute,
    as a linear layer infers its input features."""
    graph = flatten(network)
    consumers: dict[str, list[int]] = {}
    for index, leaf in enumerate(graph.leaves):
        for source in leaf.inputs:
            consumers.setdefault(source, []).append(index)
    infers = [any(spec.inferred for spec in OPS[leaf.node.op].attrs.values()) for leaf in graph.leaves]
    reaches = [False] * len(graph.leaves)
    for index in reversed(range(len(graph.leaves))):
        leaf = graph.leaves[index]
        reaches[index] = any(infers[reader] or reaches[reader] for reader in consumers.get(leaf.path, []))
    return {id(leaf.node): reaches[index] for index, leaf in enumerate(graph.leaves)}

