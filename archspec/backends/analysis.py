"""Reports of the analysis passes: cost tables, cost against input size, receptive fields, comparisons."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import SpecError
from ..ir.graph import Network
from ..ops import OPS, Shape
from ..ops.base import fmt_shape
from ..passes.cost import Cost, CostReport, analyse_cost, two_stage_cost
from ..passes.receptive_field import FieldReport
from .report import human, table

CONVENTIONS = {
    "macs": "multiply-accumulates of convolutions and linear layers",
    "flops": "2 x macs (the convention of torch.utils.flop_counter.FlopCounterMode; torchvision's 'GFLOPS' "
             "column lists GMACs)",
    "other_ops": "element-wise work, per output element: bn 2, activation 1 (sigmoid/tanh 4), add 1 per extra "
                 "input, pooling 1 per window element, bias 1; adaptive pooling 1 per input element",
    "params": "trainable parameters; buffers (batch-norm running statistics) are counted separately",
    "activations": "elements of every intermediate output (what training keeps); bytes at 4 (fp32) and 2 (bf16)",
}


# ---------------------------------------------------------------- flops


@dataclass
class Row:
    name: str
    op: str
    output_shape: Shape
    cost: Cost


def breakdown_rows(report: CostReport, by: str) -> list[Row]:
    """Rows per layer, or summed per block or per stage (in first-seen order)."""
    if by == "layer":
        return [Row(n.name, n.op, n.output_shape, n.cost) for n in report.nodes]
    rows: dict[str, Row] = {}
    for node in report.nodes:
        key = node.block if by == "block" else node.stage
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(key, node.op, node.output_shape, Cost())
        elif row.op != node.op:
            row.op = "block"
        row.output_shape = node.output_shape
        row.cost.add(node.cost)
    return list(rows.values())


NOT_COUNTED = ("decoding, confidence thresholding and non-maximum suppression (detect:) are not counted: "
               "they are data-dependent and not convolutions or linear layers")


def detector_parts(network: Network, report: CostReport) -> list[Row]:
    """A detector's cost as backbone, neck and head (the parts its `detect:` section names)."""
    from ..detection.spec import layer_parts

    parts = layer_parts(network.detection, network)
    rows: dict[str, Row] = {}
    for node in report.nodes:
        part = parts.get(node.stage, "backbone")
        row = rows.setdefault(part, Row(part, "part", node.output_shape, Cost()))
        row.output_shape = node.output_shape
        row.cost.add(node.cost)
    return [rows[part] for part in ("backbone", "neck", "head") if part in rows]


def flops_json(network: Network, report: CostReport, by: str, top: int | None) -> dict[str, Any]:
    total = report.total
    document = {
        "name": network.name,
        "input": list(report.input_shape),
        "conventions": CONVENTIONS,
        "total": {**total.to_json(), "activation_bytes": {"fp32": 4 * total.activations,
                                                          "bf16": 2 * total.activations}},
        "by": by,
        "nodes": [{"name": r.name, "op": r.op, "output_shape": list(r.output_shape), **r.cost.to_json()}
                  for r in breakdown_rows(report, by)],
    }
    if top:
        document["top"] = [n.name for n in _costliest(report, top)]
    if network.detection is not None:
        document["parts"] = [{"name": r.name, **r.cost.to_json()} for r in detector_parts(network, report)]
        document["not_counted"] = NOT_COUNTED
    if network.two_stage is not None:
        document["two_stage"] = {**two_stage_cost(network, report).to_json(), "note": TWO_STAGE_NOTE}
    return document


TWO_STAGE_NOTE = ("the table counts one region for the second stage (RoI Align and the box head); it runs once "
                  "per proposal, so its cost scales with the number of proposals")


def two_stage_lines(network: Network, report: CostReport) -> list[str]:
    """The first stage once per image, the second once per proposal: what a detector costs per image."""
    split = two_stage_cost(network, report)
    first, region, second = split.first_stage, split.per_region, split.second_stage
    total = first.macs + second.macs
    return ["", "two stages, per image:",
            f"  backbone + FPN + RPN  MACs {first.macs:,} ({human(first.macs)}) at {fmt_shape(report.input_shape)}",
            f"  second stage          MACs {region.macs:,} per region x {split.regions} proposals "
            f"(post_nms_top_n, test) = {second.macs:,} ({human(second.macs)})",
            f"  together              MACs {total:,} ({human(total)}), FLOPs {2 * total:,} ({human(2 * total)})",
            f"  ({TWO_STAGE_NOTE})"]


def _costliest(report: CostReport, top: int) -> list:
    return sorted(report.nodes, key=lambda n: (-n.cost.macs, n.name))[:top]


def flops_text(network: Network, report: CostReport, by: str, top: int | None) -> str:
    rows = [[r.name, r.op, fmt_shape(r.output_shape), human(r.cost.params), human(r.cost.macs),
             human(r.cost.other_ops), human(r.cost.activations)] for r in breakdown_rows(report, by)]
    total = report.total
    rows.append(["total", "", "", human(total.params), human(total.macs), human(total.other_ops),
                 human(total.activations)])
    headers = ["name", "op", "output", "params", "MACs", "other ops", "activations"]
    lines = [f"{network.name} at input {fmt_shape(report.input_shape)}", "",
             table(headers, rows, right={3, 4, 5, 6}), "",
             f"params {total.params:,}   buffers {total.buffers:,}",
             f"MACs {total.macs:,} ({human(total.macs)})   FLOPs {total.flops:,} ({human(total.flops)})",
             f"other ops {total.other_ops:,}   activations {total.activations:,} "
             f"({_bytes(4 * total.activations)} fp32, {_bytes(2 * total.activations)} bf16)"]
    if top:
        lines += ["", f"the {top} costliest layers:"]
        costly = _costliest(report, top)
        lines.append(table(["name", "op", "MACs", "share"],
                           [[n.name, n.op, human(n.cost.macs), f"{100 * n.cost.macs / max(total.macs, 1):.1f}%"]
                            for n in costly], right={2, 3}))
    if network.detection is not None:
        parts = detector_parts(network, report)
        lines += ["", f"{network.detection.kind} detector by part:",
                  table(["part", "params", "MACs", "share of MACs"],
                        [[r.name, human(r.cost.params), human(r.cost.macs),
                          f"{100 * r.cost.macs / max(total.macs, 1):.1f}%"] for r in parts], right={1, 2, 3}),
                  NOT_COUNTED[0].upper() + NOT_COUNTED[1:] + "."]
    if network.two_stage is not None:
        lines += two_stage_lines(network, report)
    lines += ["", "MACs: multiply-accumulates of convs and linear layers; FLOPs = 2 x MACs (FlopCounterMode's "
              "convention; torchvision's 'GFLOPS' are GMACs). Element-wise work is in 'other ops'."]
    return "\n".join(lines)


def _bytes(count: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} B"


# ---------------------------------------------------------------- cost against input size


def sizes_rows(network: Network, sizes: list[Shape]) -> list[dict[str, Any]]:
    """One row per input size: MACs, activations and output shapes, or why the network cannot take it."""
    rows = []
    for shape in sizes:
        try:
            report = analyse_cost(network, shape)
        except SpecError as error:
            rows.append({"input": list(shape), "ok": False, "error": error.diagnostics[0].headline()})
            continue
        rows.append({"input": list(shape), "ok": True, "macs": report.total.macs,
                     "activations": report.total.activations,
                     "outputs": [list(s) for s in report.output_shapes if s]})
    return rows


def sizes_text(network: Network, rows: list[dict[str, Any]]) -> str:
    body = []
    for row in rows:
        size = "x".join(map(str, row["input"]))
        if row["ok"]:
            body.append([size, human(row["macs"]), human(row["activations"]),
                         ", ".join("x".join(map(str, o)) for o in row["outputs"])])
        else:
            body.append([size, "-", "-", "cannot take this input: " + row["error"].split(": error: ", 1)[-1]])
    return f"{network.name}: cost against input size\n\n" + table(["input", "MACs", "activations", "output"],
                                                                  body, right={1, 2})


# ---------------------------------------------------------------- receptive fields


def _exact(value: int | Fraction) -> str:
    value = Fraction(value)
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def rf_names(network: Network, report: FieldReport) -> list[str]:
    """Every leaf in order, each container (`layer1`, `layer1.0`) right after its last leaf."""
    containers: dict[str, list[str]] = {}
    for container, leaf in _container_leaves(report).items():
        containers.setdefault(leaf, []).append(container)
    names = []
    for leaf in report.order:
        names.append(leaf)
        names.extend(sorted(containers.get(leaf, []), key=lambda n: (-n.count("."), n)))
    return names


def _container_leaves(report: FieldReport) -> dict[str, str]:
    """Each container with the last leaf inside it that has the container's field (its output), or the
    network's last leaf when none has. One walk over the leaves from the end, each checked against its
    enclosing containers until they are placed: linear in the leaves times their nesting depth."""
    leaves = set(report.order)
    containers = {name for name in report.fields if name not in leaves and name != "input"}
    placed: dict[str, str] = {}
    for leaf in reversed(report.order):
        prefix = leaf
        while "." in prefix:
            prefix = prefix.rsplit(".", 1)[0]
            if prefix in containers and prefix not in placed and report.fields[leaf] == report.fields[prefix]:
                placed[prefix] = leaf
    last = report.order[-1] if report.order else "input"
    return {name: placed.get(name, last) for name in report.fields if name in containers}


def rf_json(network: Network, report: FieldReport) -> dict[str, Any]:
    return {"name": network.name, "input": list(report.input_shape),
            "nodes": [report.fields[name].to_json(name) for name in rf_names(network, report)],
            "warnings": [d.to_json() for d in report.diagnostics.warnings]}


def rf_text(network: Network, report: FieldReport) -> str:
    rows = []
    for name in rf_names(network, report):
        field = report.fields[name]
        rows.append([name, "x".join(map(str, field.size)), "x".join(_exact(v) for v in field.stride),
                     ", ".join(_exact(v) for v in field.centre)])
    return (f"{network.name}: receptive fields at input {fmt_shape(report.input_shape)} "
            "(size, effective stride, centre of the first unit's field in input pixels)\n\n"
            + table(["name", "field", "stride", "centre"], rows, right={1, 2}))


# ---------------------------------------------------------------- compare


def compare_json(networks: list[Network], costs: list[CostReport], fields: list[FieldReport]) -> dict[str, Any]:
    stages = []
    for network in networks:
        for node in network.root.nodes:
            if node.name not in stages:
                stages.append(node.name)
    per_stage = []
    for stage in stages:
        entry: dict[str, Any] = {"stage": stage}
        for label, report, field_report in zip(("a", "b"), costs, fields):
            cost = Cost()
            for row in report.nodes:
                if row.stage == stage:
                    cost.add(row.cost)
            entry[label] = {"params": cost.params, "macs": cost.macs, "activations": cost.activations}
            if stage in field_report.fields:
                entry[label]["rf"] = list(field_report.fields[stage].size)
        entry["delta"] = {k: entry["b"][k] - entry["a"][k] for k in ("params", "macs", "activations")}
        per_stage.append(entry)
    return {
        "a": _side(networks[0], costs[0], fields[0]),
        "b": _side(networks[1], costs[1], fields[1]),
        "delta": {k: getattr(costs[1].total, k) - getattr(costs[0].total, k)
                  for k in ("params", "macs", "activations")},
        "stages": per_stage,
    }


def _side(network: Network, cost: CostReport, fields: FieldReport) -> dict[str, Any]:
    # The last feature map before pooling over the whole input, where a receptive field means something.
    spatial = [node.name for node in cost.nodes if len(node.output_shape) == 3
               and not OPS[node.op].sees_whole_input(node.node.attrs)]
    last = spatial[-1] if spatial else None
    return {"name": network.name, "spec": network.spec_path, "input": list(cost.input_shape),
            "params": cost.total.params, "macs": cost.total.macs, "activations": cost.total.activations,
            "last_feature_map": last, "rf": list(fields.fields[last].size) if last else None}


def compare_text(document: dict[str, Any]) -> str:
    a, b = document["a"], document["b"]

    def delta(x: int, y: int) -> str:
        if x == 0:
            return "+0" if y == 0 else "new"
        return f"{'+' if y >= x else ''}{100 * (y - x) / x:.1f}%"

    rows = [[key, human(a[key]), human(b[key]), delta(a[key], b[key])] for key in ("params", "macs", "activations")]
    rows.append(["rf (last feature map)", "x".join(map(str, a["rf"] or [])), "x".join(map(str, b["rf"] or [])),
                 ""])
    stage_rows = []
    for entry in document["stages"]:
        if entry["a"]["macs"] == entry["b"]["macs"] and entry["a"]["params"] == entry["b"]["params"]:
            continue
        stage_rows.append([entry["stage"], human(entry["a"]["params"]), human(entry["b"]["params"]),
                           human(entry["a"]["macs"]), human(entry["b"]["macs"]),
                           delta(entry["a"]["macs"], entry["b"]["macs"])])
    text = (f"A: {a['name']} ({a['spec']})\nB: {b['name']} ({b['spec']})\n\n"
            + table(["", "A", "B", "B vs A"], rows, right={1, 2, 3}))
    if stage_rows:
        text += "\n\nstages that differ:\n" + table(["stage", "params A", "params B", "MACs A", "MACs B",
                                                      "MACs B vs A"], stage_rows, right={1, 2, 3, 4, 5})
    else:
        text += "\n\nno stage differs in parameters or MACs"
    return text


def sizes_list_text(network: Network, low: int, high: int, accepted: list[int]) -> str:
    """Accepted square sizes, with the step between them when it is regular."""
    head = f"{network.name}: square inputs from {low} to {high} that it takes"
    if not accepted:
        return head + ": none"
    steps = {b - a for a, b in zip(accepted, accepted[1:])}
    lines = [f"{head}: {len(accepted)}", ", ".join(map(str, accepted))]
    if len(steps) == 1 and len(accepted) > 2:
        lines.append(f"(every {steps.pop()} pixels from {accepted[0]})")
    return "\n".join(lines)
