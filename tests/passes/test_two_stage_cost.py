"""A two-stage detector's cost split at RoI Align (torchvision's fasterrcnn_resnet50_fpn as the spec has it):
the box head's weights are torchvision's TwoMLPHead(256 * 7 * 7, 1024) and FastRCNNPredictor(1024, 91), run
once per proposal, 1000 of them in evaluation (rpn_post_nms_top_n_test); and the JSON keys docs/api.md lists."""

from __future__ import annotations

from archspec.compiler import compile_spec
from archspec.passes.cost import Cost, NodeCost, TwoStageCost, analyse_cost, scaled, two_stage_cost

from ..conftest import ROOT

SPEC = ROOT / "specs/resnet/fasterrcnn_resnet50_fpn.yaml"
COST_KEYS = ["params", "buffers", "macs", "flops", "other_ops", "activations"]  # docs/api.md, `total`


def linear(i: int, o: int) -> int:
    return i * o + o


def test_second_stage_is_the_box_head_once_per_proposal() -> None:
    network = compile_spec(SPEC)
    report = analyse_cost(network)
    split = two_stage_cost(network, report)
    box_head = linear(256 * 7 * 7, 1024) + linear(1024, 1024) + linear(1024, 91) + linear(1024, 91 * 4)
    assert split.per_region.params == box_head
    assert split.first_stage.params + split.per_region.params == report.total.params
    assert split.first_stage.macs + split.per_region.macs == report.total.macs
    assert split.regions == 1000
    assert split.second_stage == scaled(split.per_region, 1000)
    document = split.to_json()
    assert list(document) == ["first_stage", "per_region", "regions", "second_stage"]
    assert document["regions"] == 1000 and document["per_region"]["params"] == box_head


def test_cost_json_keys() -> None:
    cost = Cost(params=1, buffers=2, macs=3, other_ops=5, activations=6)
    assert cost.to_json() == dict(zip(COST_KEYS, [1, 2, 3, 6, 5, 6]))
    node = NodeCost("conv1", "conv", (8, 4, 4), cost, "stem", None, None)
    assert node.to_json() == {"name": "conv1", "op": "conv", "output_shape": [8, 4, 4], **cost.to_json()}
    assert list(TwoStageCost(cost, cost, 2).to_json()) == ["first_stage", "per_region", "regions", "second_stage"]
