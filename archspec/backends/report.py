"""Text and JSON reports: summary tables and the resolved spec with where each value came from."""

from __future__ import annotations

from fractions import Fraction
from typing import AbstractSet, Any

from ..errors import Span
from ..ir.graph import Module, Network, Node
from ..ops.base import fmt_shape
from ..passes.cost import CostReport
from ..spec.model import ResolvedSpec


def human(count: int) -> str:
    """1234567 -> '1.23M': three significant digits, exact below a thousand."""
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(count) >= size:
            return f"{count / size:.3g}{unit}"
    return str(count)


def table(headers: list[str], rows: list[list[str]], right: AbstractSet[int] = frozenset()) -> str:
    """A plain-text table with a rule under the headers; `right` are right-aligned column indices."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: list[str]) -> str:
        parts = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


# ---------------------------------------------------------------- summary


def summary_text(network: Network, report: CostReport) -> str:
    rows = [[n.name, n.op, fmt_shape(n.output_shape), f"{n.cost.params:,}"] for n in report.nodes]
    total = report.total
    rows.append(["total", "", ", ".join(fmt_shape(s) for s in report.output_shapes if s), f"{total.params:,}"])
    head = (f"{network.name} ({network.root.class_name}) from {network.spec_path}\n"
            f"input {fmt_shape(report.input_shape)}\n")
    tail = f"\nparameters {total.params:,} ({human(total.params)}), buffers {total.buffers:,}"
    return head + table(["name", "op", "output shape", "params"], rows, right={3}) + tail


def summary_json(network: Network, report: CostReport) -> dict[str, Any]:
    return {
        "name": network.name,
        "class": network.root.class_name,
        "spec": network.spec_path,
        "input": list(report.input_shape),
        "outputs": [list(s) for s in report.output_shapes if s],
        "total": {"params": report.total.params, "buffers": report.total.buffers},
        "nodes": [{"name": n.name, "op": n.op, "output_shape": list(n.output_shape), "params": n.cost.params}
                  for n in report.nodes],
    }


# ---------------------------------------------------------------- resolve


def _origin(origin: Span | str | None) -> str:
    if isinstance(origin, Span):
        return f"{origin.file}:{origin.line}"
    return origin or ""


def resolved_json(spec: ResolvedSpec, network: Network) -> dict[str, Any]:
    """The fully resolved spec: parameters with their origin, and every module and layer with its attributes."""
    return {
        "name": spec.name.value,
        "class": spec.class_name.value,
        "input": {"value": spec.input.value, "from": _origin(spec.input.span)},
        "files": spec.files,
        "spec_sha256": network.spec_hash,
        "params": {name: {"value": v.value, "from": _origin(v.span)} for name, v in spec.params.items()},
        "defaults": {op: {attr: {"value": v.value, "from": _origin(v.span)} for attr, v in attrs.items()}
                     for op, attrs in spec.defaults.items()},
        "body": _module_json(network.root),
        "outputs": network.root.outputs if not network.root.output_keys else dict(
            zip(network.root.output_keys, network.root.outputs)),
    }


def _module_json(module: Module) -> list[dict[str, Any]]:
    # Each node with the name of the one before it (the module's input for the first): what an item reads
    # when it names no input, found by position rather than by searching the list for the node.
    previous = [module.inputs[0] if module.inputs else "", *(node.name for node in module.nodes)]
    return [_node_json(node, before) for node, before in zip(module.nodes, previous)]


def _node_json(node: Node, previous: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": node.name, "from": _origin(node.span)}
    if node.inputs and node.inputs != [previous]:
        entry["inputs"] = node.inputs
    if node.is_call:
        child = node.called_module()
        entry["op"] = child.block or "seq"
        if child.kind == "block":
            entry["class"] = child.class_name
            entry["args"] = {key: _json_value(value) for key, value in child.args.items()}
        if node.shares:
            entry["shares"] = node.shares
        else:
            entry["body"] = _module_json(child)
    else:
        entry["op"] = node.op
        entry["attrs"] = {key: {"value": _json_value(v),
                                "from": _origin(node.origins.get(key, "inferred from the input"))}
                          for key, v in node.attrs.items() if key != "rank"}
    if node.shape is not None:
        entry["output_shape"] = list(node.shape)
    return entry


def _json_value(value: Any) -> Any:
    """A spec value as JSON: tuples as lists, exact fractions as "n/d" strings (as the rf report writes them)."""
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return value


def resolved_text(spec: ResolvedSpec, network: Network, explain: bool) -> str:
    """The resolved spec as indented YAML-like text; with `explain`, each value's origin as a comment."""
    document = resolved_json(spec, network)
    lines = [f"name: {document['name']}", f"class: {document['class']}",
             _explained(f"input: {document['input']['value']}", document["input"]["from"], explain)]
    if document["params"]:
        lines.append("params:")
        for name, value in document["params"].items():
            lines.append(_explained(f"  {name}: {value['value']}", value["from"], explain))
    if document["defaults"]:
        lines.append("defaults:")
        for op, attrs in document["defaults"].items():
            for attr, value in attrs.items():
                lines.append(_explained(f"  {op}.{attr}: {value['value']}", value["from"], explain))
    lines.append("body:")
    _body_text(document["body"], 1, lines, explain)
    lines.append(f"outputs: {document['outputs']}")
    return "\n".join(lines)


def _body_text(entries: list[dict[str, Any]], depth: int, lines: list[str], explain: bool) -> None:
    pad = "  " * depth
    for entry in entries:
        shape = f"  -> {fmt_shape(entry['output_shape'])}" if "output_shape" in entry else ""
        inputs = f" from {', '.join(entry['inputs'])}" if "inputs" in entry else ""
        head = f"{pad}- {entry['name']}: {entry['op']}{inputs}"
        if "args" in entry:
            head += " (" + ", ".join(f"{k}={v}" for k, v in entry["args"].items()) + ")"
        if "shares" in entry:
            head += f" (shares {entry['shares']})"
        lines.append(_explained(head + shape, entry["from"], explain))
        for attr, value in entry.get("attrs", {}).items():
            lines.append(_explained(f"{pad}    {attr}: {value['value']}", value["from"], explain))
        if "body" in entry:
            _body_text(entry["body"], depth + 1, lines, explain)


def _explained(text: str, origin: str, explain: bool) -> str:
    return f"{text}  # {origin}" if explain and origin else text
