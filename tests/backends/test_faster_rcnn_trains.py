"""The lecture's small Faster R-CNN, emitted, trains on the synthetic detection data and detects."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import ROOT, import_file

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")


def small_lecture_model(tmp_path: Path):
    """The lecture's spec at a reduced width (the 512-channel map becomes 64 channels)."""
    variant = tmp_path / "lecture_small.yaml"
    variant.write_text("extends: faster_rcnn_lecture.yaml\nname: lecture_small\n"
                       "params: {width: 8, representation: 64}\n")
    network = compile_spec(variant, spec_path=(ROOT / "specs/detection",))
    path = tmp_path / "lecture_small.py"
    path.write_text(emit_pytorch(network))
    return getattr(import_file(path, "lecture_small"), network.name)()


def test_a_few_steps_lower_the_four_losses(tmp_path: Path) -> None:
    from archspec.detection.synthetic import synthetic_detection

    torch.manual_seed(0)
    model = small_lecture_model(tmp_path)
    images, targets = synthetic_detection(4, size=80, seed=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    model.train()
    totals = []
    for _ in range(6):
        losses = model(images, targets)
        assert set(losses) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
        assert all(math.isfinite(value.item()) for value in losses.values()), losses
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        totals.append(total.item())
    assert totals[-1] < totals[0], totals
    model.eval()
    with torch.no_grad():
        detections = model(images[:2])
    assert [set(d) for d in detections] == [{"boxes", "labels", "scores"}] * 2
    for detection in detections:
        assert detection["boxes"].shape[0] <= 20  # top_k
        assert bool((detection["boxes"][:, 2:] <= 80).all()) and bool((detection["labels"] >= 1).all())


def test_the_emitted_detector_scripts(tmp_path: Path) -> None:
    """torch.jit.script compiles it; scripted, it returns (losses, detections), as torchvision's do."""
    from archspec.detection.synthetic import synthetic_detection

    torch.manual_seed(0)
    model = small_lecture_model(tmp_path).eval()
    scripted = torch.jit.script(model)
    images, _ = synthetic_detection(2, size=80, seed=5)
    with torch.no_grad():
        eager, (losses, detections) = model(images), scripted(images)
    assert losses == {} and len(detections) == 2
    for mine, theirs in zip(eager, detections):
        assert torch.equal(mine["boxes"], theirs["boxes"]) and torch.equal(mine["labels"], theirs["labels"])
