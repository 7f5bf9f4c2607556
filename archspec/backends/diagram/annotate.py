"""What the analysis passes add to a diagram: shapes, costs, receptive fields and resolution levels.

A network with errors gets what lowering found (shapes at the spec's input, up
to the failed layers) and no costs: the passes need a sound network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from ...errors import SpecError
from ...ir.graph import Module, Network
from ...ops import Shape
from ...passes.cost import Cost
from ...passes.pipeline import Analysis
from ...passes.receptive_field import Field
from .model import Box, Diagram


@dataclass
class Annotations:
    input_shape: Shape
    shapes: dict[str, Shape]  # flat value path -> shape
    costs: dict[str, Cost] = field(default_factory=dict)  # flat leaf path -> its cost
    total: Cost | None = None
    fields: dict[str, Field] = field(default_factory=dict)

    def cost_of(self, box: Box) -> Cost | None:
        if not self.costs or not box.leaves:
            return None
        total = Cost()
        for leaf in box.leaves:
            total.add(self.costs[leaf])
        return total


def annotate(analysis: Analysis, sound: bool) -> Annotations:
    """Shapes, costs and fields from the analysis (shapes inferred once, shared by both); raises SpecError
    when a sound network cannot take the analysis's input."""
    network, input_shape = analysis.network, analysis.input_shape
    if not sound:
        return Annotations(input_shape, _lowered_shapes(network))
    report = analysis.cost
    annotations = Annotations(input_shape, analysis.shapes.shapes, {node.name: node.cost for node in report.nodes},
                              report.total)
    try:
        annotations.fields = analysis.fields.fields
    except SpecError:  # a field too irregular to follow: the diagram does without
        pass
    return annotations


def _lowered_shapes(network: Network) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {"input": network.input_shape}

    def walk(module: Module, prefix: str) -> None:
        for node in module.nodes:
            path = f"{prefix}.{node.name}" if prefix else node.name
            if node.shape is not None and not node.errors:
                shapes[path] = node.shape
            if node.child is not None and node.shares is None:
                walk(node.child, path)

    walk(network.root, "")
    return shapes


def assign_levels(diagram: Diagram, annotations: Annotations) -> bool:
    """Set each box's resolution level (log2 of its output's stride) and say whether the network comes
    back up to a finer resolution (an encoder-decoder or a feature pyramid): those are drawn with each
    level on one rank, so that skips and laterals lie flat. Vectors sit below the deepest level."""
    for box in diagram.boxes:
        box.level = _level(box.output, annotations)
    known = [box.level for box in diagram.boxes if box.level is not None]
    bottom = max(known, default=0) + 1
    levels: dict[str, int] = {}
    for box in diagram.boxes:
        box.level = bottom if box.level is None else box.level
        levels[box.id] = box.level
    return any(edge.kind == "main" and levels[edge.source] > levels[edge.target]
               for edge in diagram.edges if edge.target in levels and edge.source in levels)


def _level(value: str | None, annotations: Annotations) -> int | None:
    if not value:
        return None
    shape = annotations.shapes.get(value)
    if shape is None or len(shape) != 3:
        return None
    found = annotations.fields.get(value)
    if found is not None:
        stride = max(Fraction(s) for s in found.stride)
    else:  # no receptive field: the stride from the sizes, which unpadded convolutions blur a little
        stride = Fraction(annotations.input_shape[1], shape[1])
    return round(math.log2(stride)) if stride > 0 else None


def label_levels(diagram: Diagram, network: Network, input_shape: Shape) -> None:
    """A detector's head boxes say what they predict: per level, K anchors per cell on its grid."""
    if network.detection is None:
        return
    from ...detection.anchors import anchor_table
    from ...detection.spec import output_value, value_path

    levels = anchor_table(network, input_shape)
    for level, table in zip(network.detection.levels, levels):
        paths = {value_path(network.root, output_value(network.root, output)) for output in level.outputs.values()}
        text = f"level {level.index}: K = {table.per_cell}, {table.grid[0]}×{table.grid[1]} grid"
        for box in diagram.boxes:
            if (box.output in paths or paths & set(box.leaves)) and text not in box.lines:
                box.lines.append(text)
