"""The cost pass's JSON (`Cost.to_json`, `NodeCost.to_json`) and a two-stage detector's split into what runs
once per image and what runs once per region (`two_stage_cost`, `TwoStageCost.to_json`), on networks small
enough to count by hand. The parameters, buffers and output elements are also PyTorch's: the same layers
built as torch modules, their tensors counted, run once. MACs are counted by their definition (a
convolution's output elements times its inputs per group times its kernel; each op's rule is checked against
FlopCounterMode in test_op_costs.py), FLOPs = 2 x MACs, and the element-wise work is docs/analysis.md's
per-element costs, written out."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost, two_stage_cost

CLASSIFIER = """input: [3, 8, 8]
body:
  - conv: {name: conv, out: 4, kernel: 3, padding: 1}
  - bn: {name: bn}
  - relu: {name: relu}
  - maxpool: {name: pool, kernel: 2}
  - flatten: {name: flatten}
  - linear: {name: fc, out: 5}
"""

TWO_STAGE = """archspec: 1
name: tiny_two_stage
input: [3, 16, 16]
params: {num_classes: 2}
body:
  - seq: {name: backbone, body: [conv: {out: 4, kernel: 3, stride: 2, padding: 1}, bn, relu]}
  - group:
      name: rpn
      outputs: {objectness: cls_logits, deltas: bbox_pred}
      body:
        - conv: {name: conv, out: 4, kernel: 1}
        - conv: {name: cls_logits, out: 2, kernel: 1}
        - conv: {name: bbox_pred, from: conv, out: 8, kernel: 1}
  - roi_align: {name: box_roi_pool, from: backbone, size: 2, sampling_ratio: 1}
  - group:
      name: roi_heads
      outputs: {class_logits: cls_score, box_regression: bbox_pred}
      body:
        - flatten
        - linear: {name: fc6, out: 8}
        - relu: {name: features}
        - linear: {name: cls_score, out: num_classes}
        - linear: {name: bbox_pred, from: features, out: num_classes * 4}
outputs:
  objectness: rpn.objectness
  deltas: rpn.deltas
  class_logits: roi_heads.class_logits
  box_regression: roi_heads.box_regression
detect:
  kind: faster_rcnn
  classes: num_classes
  levels:
    - {scores: objectness, boxes: deltas, stride: 2, sizes: [8, 16], aspect_ratios: [1.0]}
  transform: {min_size: 16, max_size: 16, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], size_divisible: 16}
  rpn:
    pre_nms_top_n: {train: 12, test: 10}
    post_nms_top_n: {train: 7, test: 5}
    nms_thresh: 0.7
    score_thresh: 0.0
    fg_iou_thresh: 0.7
    bg_iou_thresh: 0.3
    batch_size_per_image: 16
    positive_fraction: 0.5
  roi_heads:
    roi_align: box_roi_pool
    scores: class_logits
    boxes: box_regression
    fg_iou_thresh: 0.5
    bg_iou_thresh: 0.5
    batch_size_per_image: 8
    positive_fraction: 0.25
  box_weights: [10.0, 10.0, 5.0, 5.0]
  confidence: 0.05
  iou: 0.5
  top_k: 4
"""


def torch_counts(modules: list[nn.Module], x: torch.Tensor) -> dict[str, int]:
    """Parameters, buffers and the elements of every module's output, the modules applied in turn."""
    counts = {"params": 0, "buffers": 0, "activations": 0}
    with torch.no_grad():
        for module in modules:
            x = module.eval()(x)
            counts["activations"] += x.numel()
            counts["params"] += sum(p.numel() for p in module.parameters())
            counts["buffers"] += sum(b.numel() for b in module.buffers())
    return counts


def test_cost_to_json_of_a_small_classifier(tmp_path: Path) -> None:
    path = tmp_path / "classifier.yaml"
    path.write_text(CLASSIFIER)
    report = analyse_cost(compile_spec(path))
    reference = torch_counts([nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64, 5)], torch.zeros(1, 3, 8, 8))
    assert reference == {"params": 112 + 8 + 325, "buffers": 9, "activations": 3 * 256 + 64 + 64 + 5}
    macs = 4 * 8 * 8 * 3 * 3 * 3 + 5 * 64  # the conv's 256 outputs read 3 x 3 x 3 inputs, the linear's 5 read 64
    # per element: the conv's bias 1 (256 outputs), batch norm 2, relu 1, a 2x2 max 4 (64 outputs),
    # flatten 0, the linear's bias 1 (5 outputs)
    other_ops = 256 + 2 * 256 + 256 + 4 * 64 + 0 + 5
    expected = {"params": 445, "buffers": 9, "macs": macs, "flops": 2 * macs, "other_ops": other_ops,
                "activations": 901}
    assert (macs, other_ops) == (7232, 1285)
    assert {key: expected[key] for key in reference} == reference
    # the document, keys in this order, as `archspec flops --json` writes its total and nodes
    assert json.dumps(report.total.to_json()) == json.dumps(expected)
    by_name = {node.name: node.to_json() for node in report.nodes}
    assert list(by_name) == ["conv", "bn", "relu", "pool", "flatten", "fc"]
    assert json.dumps(by_name["bn"]) == json.dumps(
        {"name": "bn", "op": "bn", "output_shape": [4, 8, 8], "params": 8, "buffers": 9, "macs": 0, "flops": 0,
         "other_ops": 512, "activations": 256})
    assert by_name["pool"]["output_shape"] == [4, 4, 4] and by_name["fc"]["macs"] == 320


def test_two_stage_cost_splits_at_roi_align(tmp_path: Path) -> None:
    """The backbone and RPN once per image; RoI Align and the box head once per region, `post_nms_top_n`'s
    test value (5) times, their weights counted once."""
    path = tmp_path / "two_stage.yaml"
    path.write_text(TWO_STAGE)
    network = compile_spec(path)
    report = analyse_cost(network)
    split = two_stage_cost(network, report)

    image = torch_counts([nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.BatchNorm2d(4), nn.ReLU())],
                         torch.zeros(1, 3, 16, 16))
    rpn = [torch_counts([conv], torch.zeros(1, 4, 8, 8))
           for conv in (nn.Conv2d(4, 4, 1), nn.Conv2d(4, 2, 1), nn.Conv2d(4, 8, 1))]
    heads = torch_counts([nn.Flatten(), nn.Linear(16, 8), nn.ReLU()], torch.zeros(1, 4, 2, 2))
    heads_out = [torch_counts([linear], torch.zeros(1, 8)) for linear in (nn.Linear(8, 2), nn.Linear(8, 8))]
    first = {key: image[key] + sum(r[key] for r in rpn) for key in ("params", "buffers")}
    region = {key: heads[key] + sum(h[key] for h in heads_out) for key in ("params", "buffers", "activations")}
    assert first == {"params": 190, "buffers": 9}
    assert region == {"params": 226, "buffers": 0, "activations": 16 + 8 + 8 + 2 + 8}  # RoI Align's 16 apart
    assert image["activations"] == 256  # the Sequential's output; archspec counts each of its three layers
    # the backbone's conv: 256 outputs of 3 x 3 x 3 inputs; the RPN's 1x1 convs: (4 + 2 + 8) x 64 outputs of 4
    first_macs = 256 * 27 + (4 + 2 + 8) * 64 * 4
    region_macs = 8 * 16 + 2 * 8 + 8 * 8  # fc6, cls_score, bbox_pred
    assert (first_macs, region_macs) == (10496, 208)

    first_stage = {"params": 190, "buffers": 9, "macs": first_macs, "flops": 2 * first_macs,
                   "other_ops": 256 + 2 * 256 + 256 + 256 + 128 + 512,  # biases, batch norm 2, relu 1
                   "activations": 3 * 256 + 256 + 128 + 512}
    per_region = {"params": 226, "buffers": 0, "macs": region_macs, "flops": 2 * region_macs,
                  "other_ops": 16 * 1 * 4 + 0 + 8 + 8 + 2 + 8,  # RoI Align: 1 sample of 4 reads a unit
                  "activations": 16 + 16 + 8 + 8 + 2 + 8}
    second_stage = {"params": 226, "buffers": 0, "macs": 5 * region_macs, "flops": 5 * 2 * region_macs,
                    "other_ops": 5 * per_region["other_ops"], "activations": 5 * per_region["activations"]}
    assert json.dumps(split.to_json()) == json.dumps(
        {"first_stage": first_stage, "per_region": per_region, "regions": 5, "second_stage": second_stage})
    # the two stages are the whole report, each node in one of them
    total = report.total.to_json()
    assert {key: first_stage[key] + per_region[key] for key in total} == total
