"""RoI Align's rules: which levels it takes (each refusal with its full message, hint and place in the spec),
where a detector may hold it, what a diagram calls it, what it costs per region, and the torchvision module it
is emitted as. The detector is the lecture's Faster R-CNN, a one-level one that compiles in milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.ops import OPS
from archspec.ops.base import CodeArgs

from ..conftest import ROOT

LECTURE = ROOT / "specs/detection/faster_rcnn_lecture.yaml"
ALIGN = "  - roi_align: {name: box_roi_pool, from: backbone, size: 7, sampling_ratio: 2}\n"


def lecture_with(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = LECTURE.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "detector.yaml"
    path.write_text(text)
    return path


def errors_of(path: Path) -> list[tuple[str, str | None]]:
    """Each error as `file:line:col: message`, with its hint."""
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    return [(f"{d.span}: {d.message}", d.hint) for d in raised.value.diagnostics if d.severity == "error"]


def line_of(path: Path, text: str) -> int:
    return next(number for number, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.mark.parametrize("levels", [["backbone", "rpn.objectness"], ["backbone", "rpn.objectness", "rpn.deltas"]])
def test_roi_align_refuses_levels_of_different_widths(tmp_path: Path, levels: list[str]) -> None:
    # torchvision's MultiScaleRoIAlign stacks the crops of every level into one tensor: one channel count.
    shapes = {"backbone": "512x5x6", "rpn.objectness": "6x5x6", "rpn.deltas": "24x5x6"}
    path = lecture_with(tmp_path, ("from: backbone, size: 7", f"from: [{', '.join(levels)}], size: 7"))
    where = f"{path}:{line_of(path, 'roi_align:')}:5"
    listing = ", ".join(shapes[level] for level in levels)
    each = ", ".join(f"'{level}' is {shapes[level]}" for level in levels)
    assert errors_of(path) == [(f"{where}: roi_align 'box_roi_pool': expects levels with one channel count, got "
                                f"{listing} ({each})", "every level of a feature pyramid has the pyramid's width")]


def test_roi_align_refuses_a_level_that_is_not_a_feature_map(tmp_path: Path) -> None:
    path = lecture_with(tmp_path, (ALIGN, "  - flatten: {name: flat, from: backbone}\n"
                                          + ALIGN.replace("from: backbone", "from: [backbone, flat]")))
    where = f"{path}:{line_of(path, 'roi_align:')}:5"
    assert errors_of(path)[0] == (f"{where}: roi_align 'box_roi_pool': expects feature maps (C, H, W), got a "
                                  "tensor of shape 15360 as input 1 ('backbone' is 512x5x6, 'flat' is 15360)",
                                  "RoI Align crops regions out of pyramid levels")


def test_roi_align_inside_a_block_of_a_detector_is_refused(tmp_path: Path) -> None:
    """Only the body's own roi_align receives the proposals; one inside a block would be called on a single
    tensor and no regions (emitted, it was a MultiScaleRoIAlign with no levels, which fails when run)."""
    block = "blocks:\n  cropper:\n    body:\n      - roi_align: {name: pool, size: 5}\n" \
            "      - adaptive_avgpool: {size: [5, 6]}\nbody:\n  - seq:"
    path = lecture_with(tmp_path, ("body:\n  - seq:", block),
                        ("conv: {out: width * 8}, relu, maxpool]", "conv: {out: width * 8}, relu, maxpool, cropper]"))
    where = f"{path}:{line_of(path, 'roi_align: {name: pool')}:9"
    assert errors_of(path) == [(f"{where}: roi_align 'backbone.14.pool' is inside 'backbone.14': a detector crops "
                                "its proposals with a roi_align of the body itself",
                                "place the roi_align in the body, between the RPN head and the box head")]


def test_roi_align_is_labelled_with_its_output_grid() -> None:
    roi_align = OPS["roi_align"]
    assert roi_align.label({"size": 7, "sampling_ratio": 2}) == "RoI Align 7×7"
    assert roi_align.label({"size": 14, "sampling_ratio": 0}) == "RoI Align 14×14"


@pytest.mark.parametrize("ratio, samples", [(1, 1), (2, 4), (3, 9), (0, 1)])
def test_roi_align_costs_four_reads_per_bilinear_sample(ratio: int, samples: int) -> None:
    """torchvision's kernel averages ratio x ratio bilinear samples per output unit, each weighing four
    neighbours; an adaptive ratio (0) takes ceil(region / size) per axis, known only at run time: at least 1."""
    output = (256, 7, 7)
    cost = OPS["roi_align"].other_ops({"size": 7, "sampling_ratio": ratio}, [(256, 20, 20)], output)
    assert cost == 256 * 7 * 7 * samples * 4


def test_roi_align_is_emitted_as_torchvision_writes_its_multi_scale_roi_align() -> None:
    """The levels named by position, as the detector's forward passes them: torchvision's fasterrcnn_resnet50_fpn
    builds `MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2)`."""
    attrs = {"size": 7, "sampling_ratio": 2}
    sources = {name: repr(value) for name, value in attrs.items()}
    emit = OPS["roi_align"].emit
    assert emit(CodeArgs({**attrs, "inputs": 4}, sources)) == \
        'MultiScaleRoIAlign(featmap_names=["0", "1", "2", "3"], output_size=7, sampling_ratio=2)'
    assert emit(CodeArgs({**attrs, "inputs": 1}, sources)) == \
        'MultiScaleRoIAlign(featmap_names=["0"], output_size=7, sampling_ratio=2)'
