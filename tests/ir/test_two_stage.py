"""A two-stage detector's `detect` section checked against its body: each mistake a located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..conftest import ROOT

SPEC = ROOT / "specs/resnet/fasterrcnn_resnet50_fpn.yaml"


def mutated(tmp_path: Path, old: str, new: str) -> Path:
    text = SPEC.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "detector.yaml"
    path.write_text(text.replace(old, new))
    return path


def first_error(path: Path):
    with pytest.raises(SpecError) as error:
        compile_spec(path, spec_path=(SPEC.parent,))
    return error.value.diagnostics[0]


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


CASES = {
    # Two sizes at three ratios is K = 6 on level 0, but the shared head has 3 objectness channels.
    "anchors_against_rpn_channels": ("sizes: [32], aspect_ratios", "sizes: [32, 48], aspect_ratios",
                                     "scores: objectness0", "'objectness0' has 3 channels; level 0 needs K = 6"),
    "roi_align_over_a_missing_level": ("from: [backbone.0, backbone.1, backbone.2, backbone.3]",
                                       "from: [backbone.0, backbone.1, backbone.2, backbone.5]",
                                       "roi_align: {name: box_roi_pool", "backbone.5"),
    "zero_proposals": ("post_nms_top_n: {train: 2000, test: 1000}", "post_nms_top_n: {train: 2000, test: 0}",
                       "post_nms_top_n", "'rpn.post_nms_top_n.test' must be at least 1, got 0"),
    "rpn_thresholds_out_of_order": ("bg_iou_thresh: 0.3", "bg_iou_thresh: 0.8", "bg_iou_thresh: 0.8",
                                    "bg_iou_thresh 0.8 is above fg_iou_thresh 0.7"),
    "positive_fraction_zero": ("positive_fraction: 0.25", "positive_fraction: 0.0", "positive_fraction: 0.0",
                               "'roi_heads.positive_fraction' must be in (0, 1], got 0.0"),
    "positive_fraction_above_one": ("positive_fraction: 0.5", "positive_fraction: 1.5", "positive_fraction: 1.5",
                                    "'rpn.positive_fraction' must be in (0, 1], got 1.5"),
    # A 5x5 crop gives the box head 256 x 5 x 5 features, not the 256 x 7 x 7 its fc6 is written for.
    "box_head_against_roi_size": ("size: 7,", "size: 5,", "name: fc6", "6400"),
    "box_head_against_classes": ("classes: num_classes", "classes: 21", "scores: class_logits",
                                 "the box head gives 91 class scores and 364 deltas per region; 21 classes"),
}


@pytest.mark.parametrize("case", CASES)
def test_mistakes_are_located(tmp_path: Path, case: str) -> None:
    old, new, located_at, message = CASES[case]
    path = mutated(tmp_path, old, new)
    error = first_error(path)
    assert message in error.message, error.message
    assert error.span.line == line_of(path, located_at), (error.span, error.message)


def test_roi_align_needs_a_detector(tmp_path: Path) -> None:
    path = tmp_path / "crop.yaml"
    path.write_text("input: [8, 32, 32]\nbody:\n  - conv: {out: 8, kernel: 3}\n  - roi_align: {size: 7}\n")
    error = first_error(path)
    assert "crops regions that only a detector proposes" in error.message and error.span.line == 4


def test_every_setting_is_written(tmp_path: Path) -> None:
    error = first_error(mutated(tmp_path, "    nms_thresh: 0.7\n", ""))
    assert "'rpn' has no 'nms_thresh'" in error.message
