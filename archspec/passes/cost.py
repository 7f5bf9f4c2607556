"""Parameters, multiply-accumulates, element-wise work and activation memory, exactly, from the IR.

Conventions (stated in every report): ``macs`` counts the multiply-accumulates
of convolutions and linear layers; ``flops = 2 * macs``, the convention of
``torch.utils.flop_counter.FlopCounterMode`` and of torchvision's "GFLOPS"
(which are GMACs). Element-wise work — normalisation, activations, pooling,
additions, bias additions — is counted separately in ``other_ops`` with the
per-element costs each op documents, never mixed into the headline.
``activations`` counts the elements of every intermediate output.

>>> from archspec.compiler import compile_spec
>>> analyse_cost(compile_spec("specs/resnet/resnet50.yaml")).total.macs
4089184256
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import Diagnostic
from ..ir.graph import Network, Node
from ..ops import OPS, Shape

if TYPE_CHECKING:
    from .pipeline import Analysis


# `archspec build` warns above this many parameters: 4 GB of float32 weights, when the model is instantiated.
# The file is written all the same; analysis never allocates, so any size is analysed exactly and at once.
LARGE_MODEL_PARAMS = 10**9
# And above this many activation elements for one input at the spec's size (4 GB of float32 in a forward).
LARGE_ACTIVATIONS = 10**9


@dataclass
class Cost:
    params: int = 0
    buffers: int = 0
    macs: int = 0
    other_ops: int = 0
    activations: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def add(self, other: "Cost") -> None:
        self.params += other.params
        self.buffers += other.buffers
        self.macs += other.macs
        self.other_ops += other.other_ops
        self.activations += other.activations

    def to_json(self) -> dict[str, int]:
        return {"params": self.params, "buffers": self.buffers, "macs": self.macs, "flops": self.flops,
                "other_ops": self.other_ops, "activations": self.activations}


@dataclass
class NodeCost:
    name: str
    op: str
    output_shape: Shape
    cost: Cost
    stage: str
    block: str
    node: Node  # the IR node, for reports that need its attributes

    def to_json(self) -> dict:
        return {"name": self.name, "op": self.op, "output_shape": list(self.output_shape), **self.cost.to_json()}


@dataclass
class CostReport:
    input_shape: Shape
    nodes: list[NodeCost]
    total: Cost = field(default_factory=Cost)
    output_shapes: list[Shape | None] = field(default_factory=list)


def analyse_cost(network: Network, input_shape: Shape | None = None) -> CostReport:
    """Per-node and total cost for an input (C, H, W); raises SpecError if the network cannot take it."""
    from .pipeline import Analysis

    return Analysis(network, input_shape).cost


def cost_pass(analysis: Analysis) -> CostReport:
    """The cost of every leaf of the flat view, from the shapes already inferred."""
    shapes = analysis.shapes
    known = shapes.shapes
    report = CostReport(analysis.input_shape, [], output_shapes=list(shapes.outputs))
    for leaf in analysis.flat.leaves:
        node = leaf.node
        op = OPS[node.op]
        inputs = [known[path] for path in leaf.inputs]
        output = known[leaf.path]
        cost = Cost(
            params=op.params(node.attrs) if leaf.owner else 0,
            buffers=op.buffers(node.attrs) if leaf.owner else 0,
            macs=op.macs(node.attrs, inputs, output),
            other_ops=op.other_ops(node.attrs, inputs, output),
            activations=_elements(output),
        )
        report.nodes.append(NodeCost(leaf.path, node.op, output, cost, leaf.stage, leaf.block, node))
        report.total.add(cost)
    return report


def size_warnings(network: Network, params: int, activations: int = 0) -> list[Diagnostic]:
    """Warnings, located at the spec's body, when the network has more than LARGE_MODEL_PARAMS parameters or
    one forward pass at the spec's input size more than LARGE_ACTIVATIONS activation elements."""
    found = []
    if params > LARGE_MODEL_PARAMS:
        found.append(Diagnostic(f"the network has {params:,} parameters, more than {LARGE_MODEL_PARAMS:,}; "
                                f"instantiating it allocates about {params * 4 // 10**9:,} GB of float32 weights",
                                network.root.span, hint="check the widths and repeat counts; the file is "
                                "written, building it is your choice", severity="warning"))
    if activations > LARGE_ACTIVATIONS:
        found.append(Diagnostic(f"one forward pass at the input size {list(network.input_shape)} computes "
                                f"{activations:,} activation elements, more than {LARGE_ACTIVATIONS:,} (about "
                                f"{activations * 4 // 10**9:,} GB of float32 for one input)", network.root.span,
                                hint="check the input size; the file is written, running it is your choice",
                                severity="warning"))
    return found


def _elements(shape: Shape) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


@dataclass
class TwoStageCost:
    """A two-stage detector's cost: the first stage (backbone, FPN, RPN) once per image at the input size,
    the second (RoI Align, box head) once per region, so `regions` times per image."""

    first_stage: Cost
    per_region: Cost
    regions: int  # the proposals the second stage sees in evaluation (post_nms_top_n's test value)

    @property
    def second_stage(self) -> Cost:
        return scaled(self.per_region, self.regions)

    def to_json(self) -> dict:
        return {"first_stage": self.first_stage.to_json(), "per_region": self.per_region.to_json(),
                "regions": self.regions, "second_stage": self.second_stage.to_json()}


def two_stage_cost(network: Network, report: CostReport) -> TwoStageCost:
    """Split a cost report at the detector's RoI Align: what runs per image and what runs per region.

    The second stage's parameters are counted once (the same weights serve every region); its work and
    activations scale with the number of proposals."""
    parts = network.two_stage
    first, per_region = Cost(), Cost()
    per_region_stages = {parts.roi_align, parts.box_head}
    for node in report.nodes:
        (per_region if node.stage in per_region_stages else first).add(node.cost)
    return TwoStageCost(first, per_region, parts.rpn["post_nms_top_n"]["test"])


def scaled(cost: Cost, count: int) -> Cost:
    """The cost of running a part `count` times with the same weights."""
    return Cost(params=cost.params, buffers=cost.buffers, macs=cost.macs * count,
                other_ops=cost.other_ops * count, activations=cost.activations * count)
