"""Faster R-CNN's stage-level diagram draws the lecture's figure: backbone, RPN, proposals, RoI Align,
box head and predictor, with the four losses and the detections."""

from __future__ import annotations

from archspec.backends.diagram import build_diagram
from archspec.compiler import compile_spec

from ..conftest import ROOT


def test_stage_diagram_has_the_two_stages_and_four_losses() -> None:
    diagram = build_diagram(compile_spec(ROOT / "specs/resnet/fasterrcnn_resnet50_fpn.yaml"), "stage")
    edges = {(e.source, e.target) for e in diagram.edges}
    boxes = {box.id: box for box in diagram.boxes}
    losses = [f":output.{name}" for name in ("loss_objectness", "loss_rpn_box_reg", "loss_classifier",
                                           "loss_box_reg")]
    assert all(loss in boxes for loss in losses) and ":output.detections" in boxes
    assert ("rpn.head", ":proposals") in edges and (":proposals", "box_roi_pool") in edges
    assert ("box_roi_pool", "roi_heads.box_head.flatten") in edges
    assert ("rpn.head", losses[0]) in edges and ("rpn.head", losses[1]) in edges
    assert ("roi_heads.box_predictor.cls_score", losses[2]) in edges
    assert ("roi_heads.box_predictor.bbox_pred", losses[3]) in edges
    assert "top 1000 per level · NMS 0.7 · top 1000" in boxes[":proposals"].lines[1]
    # The raw maps and predictions are what these steps read, not outputs of their own.
    assert ":output.objectness0" not in boxes and ":output.class_logits" not in boxes
