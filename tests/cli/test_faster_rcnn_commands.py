"""`anchors` and `flops` on the two-stage detectors, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

from ..conftest import ROOT


def run(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *arguments], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_lecture_map_has_180_anchors() -> None:
    result = run("anchors", "specs/detection/faster_rcnn_lecture.yaml", "--json")
    document = json.loads(result.stdout)
    assert result.returncode == 0
    [level] = document["levels"]
    assert level["grid"] == [5, 6] and level["k"] == 6 and level["total"] == 180


def test_flops_splits_the_stages_and_scales_the_second_with_the_proposals() -> None:
    document = json.loads(run("flops", "specs/detection/faster_rcnn_lecture.yaml", "--json").stdout)
    split = document["two_stage"]
    assert split["regions"] == 300 and "scales with the number of proposals" in split["note"]
    assert split["second_stage"]["macs"] == 300 * split["per_region"]["macs"]
    # Per region: fc6 on the 512x7x7 crop, fc7, then 4 class scores and 16 deltas.
    assert split["per_region"]["macs"] == 512 * 49 * 256 + 256 * 256 + 256 * 4 + 256 * 16
    assert split["first_stage"]["macs"] + split["per_region"]["macs"] == document["total"]["macs"]
    text = run("flops", "specs/resnet/fasterrcnn_resnet50_fpn.yaml").stdout
    assert "backbone + FPN + RPN" in text and "x 1000 proposals" in text
