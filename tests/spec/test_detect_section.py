"""The `detect:` section: parsed with spans, checked against the network, every mistake located."""

from __future__ import annotations

import textwrap

import pytest

from archspec.compiler import compile_spec, validate_spec
from archspec.errors import SpecError

NETWORK = """\
archspec: 1
name: tiny
input: [3, 64, 64]
params: {classes: 3, anchors: 2}
body:
  - conv: {out: 8, kernel: 3, stride: 2, padding: 1}
  - relu
  - conv: {out: 16, kernel: 3, stride: 2, padding: 1}
  - relu
  - conv: {name: head, out: anchors * (5 + classes), kernel: 1}
detect:
  kind: yolov2
  classes: classes
  levels:
    - {output: head, stride: 4, anchors: [[1, 1], [2, 3]]}
"""


def write(tmp_path, text: str, **replace: str):
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    return path


def errors(path, **kwargs) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_spec(path, **kwargs)
    return [d.headline() for d in caught.value.diagnostics]


def test_a_sound_detector_validates_with_its_anchor_counts(tmp_path):
    network = compile_spec(write(tmp_path, NETWORK))
    from archspec.detection.anchors import anchor_table

    (level,) = anchor_table(network)
    assert level.grid == (16, 16) and level.per_cell == 2 and level.total == 512
    assert level.shapes == ((4.0, 4.0), (8.0, 12.0))  # grid cells x stride 4


def test_head_channels_must_be_k_times_5_plus_c(tmp_path):
    path = write(tmp_path, NETWORK, **{"anchors * (5 + classes)": "15"})
    (message,) = errors(path)
    assert f"{path}:15:16: error:" in message  # at the level's `output`, which assumes K and C
    assert "has 15 channels; level 0 needs K x (5 + C) = 2 x (5 + 3) = 16" in message


def test_level_reading_a_missing_output(tmp_path):
    (message,) = errors(write(tmp_path, NETWORK, **{"output: head": "output: heed"}))
    assert ":15:16: error: level 0 reads output 'heed', which the network does not have" in message


def test_grid_other_than_the_stride_assumes(tmp_path):
    (message,) = errors(write(tmp_path, NETWORK, **{"stride: 4,": "stride: 8,"}))
    assert ":15:30: error: level 0 assumes a 8x8 grid (stride 8 at input 64x64), but output 'head' is 16x16" in message


@pytest.mark.parametrize("old, new, expected", [
    ("[2, 3]]", "[2, -3]]", ":15:51: error: anchor 1 must have a positive width and height, got [2, -3]"),
    ("classes: classes", "classes: classes\n  confidence: 1.5",
     ":14:15: error: 'confidence' must be in [0, 1], got 1.5"),
    ("kind: yolov2", "kind: yolo", ":12:9: error: the detector kind must be one of yolov1, yolov2, ssd, rpn, faster_rcnn, got 'yolo'"),
    ("classes: classes", "classes: classes\n  iuo: 0.5", ":14:3: error: unknown key 'iuo' in 'detect'"),
])
def test_bad_values_are_located(tmp_path, old, new, expected):
    messages = errors(write(tmp_path, NETWORK, **{old: new}))
    assert any(expected in m for m in messages), messages


def test_receptive_field_smaller_than_the_largest_anchor_warns(tmp_path):
    # the head's field is 7 px; the largest anchor 2 x 3 cells of 4 px = 12 px high
    network = compile_spec(write(tmp_path, NETWORK))
    (warning,) = [w for w in network.warnings if "receptive field" in w.message]
    assert "level 0's receptive field is 7x7, smaller than its largest anchor (12 pixels)" in warning.message
    assert warning.span.line == 15


def test_a_warning_the_input_does_not_change_is_given_once_at_another_input(tmp_path):
    import archspec

    # the spec's input and the one asked for are both checked; the field warning reads the same at each
    net = archspec.load(write(tmp_path, NETWORK), input=(3, 128, 128))
    assert [w.message for w in net.warnings if "receptive field" in w.message] == [
        "level 0's receptive field is 7x7, smaller than its largest anchor (12 pixels)"]


SSD = """\
archspec: 1
name: tiny_ssd
input: [3, 32, 32]
body:
  - conv: {name: features, out: 8, kernel: 3, stride: 2, padding: 1}
  - conv: {name: scores, from: features, out: 4 * 3, kernel: 3, padding: 1}
  - conv: {name: boxes, from: features, out: 16, kernel: 3, padding: 1}
outputs: {scores: scores, boxes: boxes}
detect:
  kind: ssd
  classes: 3
  scales: [0.2, 0.9]
  levels:
    - {scores: scores, boxes: boxes, stride: 2, aspect_ratios: [2]}
"""


def test_ssd_channels_and_stride_warning(tmp_path):
    network = compile_spec(write(tmp_path, SSD))
    assert network.detection.anchors_per_cell(network.detection.levels[0]) == 4
    (message,) = errors(write(tmp_path, SSD, **{"4 * 3": "4 * 2"}))
    assert "output 'scores' has 8 channels; level 0 needs K x C = 4 x 3 = 12" in message
    network = compile_spec(write(tmp_path, SSD, **{"stride: 2, aspect": "stride: 2.1, aspect"}))
    assert any("assumes stride 21/10, but its map's exact stride is 2" in w.message for w in network.warnings)
    (message,) = errors(write(tmp_path, SSD, **{"[0.2, 0.9]": "[0.2]"}))
    assert "'scales' must have 2 numbers, got 1" in message
