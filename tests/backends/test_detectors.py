"""Emitted detectors: SSD300's parity with torchvision (state_dict, head outputs, detections, losses),
the YOLO losses on hand-worked examples, decode/postprocess/loss running, and a few optimizer steps that
lower the loss of every shipped detector at a reduced size."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec
from tests.conftest import SPECS, import_file

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")


def emitted(path: Path, tmp_path: Path, module: str, spec_path: tuple = ()):
    network = compile_spec(path, spec_path=spec_path)
    file = tmp_path / f"{module}.py"
    file.write_text(emit_pytorch(network))
    return network, import_file(file, module)


def variant(tmp_path: Path, base: Path, params: dict, input_size: int | None = None, name: str = "small") -> Path:
    lines = ["archspec: 1", f"extends: {base.name}", f"name: {name}", "params:"]
    lines += [f"  {key}: {value}" for key, value in params.items()]
    if input_size:
        lines.append(f"input: [3, {input_size}, {input_size}]")
    path = tmp_path / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------ SSD300: torchvision parity


@pytest.fixture(scope="module")
def ssd_pair(tmp_path_factory):
    """Both built under one seed, with the names of the tensors that differ as built (before any test loads
    the reference's weights into ours)."""
    _, module = emitted(SPECS / "ssd/ssd300_vgg16.yaml", tmp_path_factory.mktemp("ssd"), "emitted_ssd300")
    torch.manual_seed(0)
    ours = module.ssd300_vgg16()
    torch.manual_seed(0)
    reference = torchvision.models.detection.ssd300_vgg16(weights=None, weights_backbone=None)
    initial = reference.state_dict()
    different = [key for key, tensor in ours.state_dict().items()
                 if key not in initial or not torch.equal(tensor, initial[key])]
    return ours, reference, different


def test_ssd300_starts_with_torchvision_weights(ssd_pair):
    """The spec's `init: order` builds VGG-16 (its dropped classifier too) and initialises it, then the extra
    blocks, then fc6 and fc7, as torchvision does; the heads initialise themselves when built."""
    ours, reference, different = ssd_pair
    assert list(ours.state_dict()) == list(reference.state_dict())
    assert not different, f"initial tensors differ from torchvision's: {different[:5]}"


def test_ssd300_state_dict_matches_torchvision(ssd_pair):
    ours, reference, _ = ssd_pair
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert sum(p.numel() for p in ours.parameters()) == 35_641_826
    ours.load_state_dict(reference.state_dict())


def test_ssd300_eval_outputs_and_detections_match_torchvision(ssd_pair):
    ours, reference, _ = ssd_pair
    ours.load_state_dict(reference.state_dict())
    ours.eval(), reference.eval()
    images = [torch.rand(3, 240, 320, generator=torch.Generator().manual_seed(1))]
    with torch.no_grad():
        batch, _ = reference.transform(images)
        features = list(reference.backbone(batch.tensors).values())
        expected = reference.head(features)
        outputs = ours.head_outputs(batch.tensors)
        scores, offsets, anchors = ours.levels(outputs)
        assert torch.equal(scores, expected["cls_logits"]) and torch.equal(offsets, expected["bbox_regression"])
        assert anchors.shape == (8732, 4)
        assert torch.equal(anchors, reference.anchor_generator(batch, features)[0])
        found, wanted = ours(images)[0], reference(images)[0]
    assert len(wanted["boxes"]) > 0
    for key in ("boxes", "scores", "labels"):
        assert torch.equal(found[key], wanted[key]), key


def test_ssd300_train_losses_match_torchvision(ssd_pair):
    ours, reference, _ = ssd_pair
    ours.load_state_dict(reference.state_dict())
    ours.train(), reference.train()
    images = [torch.rand(3, 300, 300, generator=torch.Generator().manual_seed(2))]
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 100.0, 200.0], [150.0, 30.0, 290.0, 220.0]]),
                "labels": torch.tensor([3, 7])}]
    with torch.no_grad():
        found = ours(images, [dict(t) for t in targets])
        wanted = reference(images, [dict(t) for t in targets])
    assert found.keys() == wanted.keys() == {"bbox_regression", "classification"}
    for key in found:
        assert float(found[key]) == pytest.approx(float(wanted[key]), abs=1e-5), key


# ------------------------------------------------------------------ YOLO losses, worked by hand


def test_yolov2_loss_hand_worked():
    from archspec.backends.pytorch.runtime.yolo import yolov2_loss

    # One 1x1 grid of stride 32, anchors (1, 1) and (4, 4) cells, C = 2, every output 0: each anchor
    # predicts a box centred at (16, 16) px of its own size, objectness sigmoid(0) = 0.5, classes 0.5 each.
    # The box [8, 8, 24, 40] (centre (0.5, 0.75) cells, size 0.5 x 1 cells, class 1) overlaps anchor 0's
    # shape by IoU 0.5 and anchor 1's by 1/32: anchor 0 is responsible.
    #   coord  = (0.5 - 0.5)^2 + (0.5 - 0.75)^2 + (0 - ln 0.5)^2 + (0 - ln 1)^2 = 0.0625 + ln(2)^2
    #   object = 5 x (0.5 - IoU([0,0,32,32], box) = 384 / 1152 = 1/3)^2 = 5 / 36
    #   class  = (0.5 - 0)^2 + (0.5 - 1)^2 = 0.5
    #   noobject: anchor 1's box [-48, -48, 80, 80] overlaps the box by 1/32 < 0.6: 1 x 0.5^2 = 0.25
    output = torch.zeros(1, 2 * 7, 1, 1)
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 24.0, 40.0]]), "labels": torch.tensor([1])}]
    weights = {"coord": 1.0, "object": 5.0, "noobject": 1.0, "class": 1.0, "ignore_iou": 0.6}
    loss = yolov2_loss(output, targets, [(1.0, 1.0), (4.0, 4.0)], 32.0, weights)
    assert float(loss["coord"]) == pytest.approx(0.0625 + math.log(2) ** 2)
    assert float(loss["object"]) == pytest.approx(5 / 36)
    assert float(loss["class"]) == pytest.approx(0.5)
    assert float(loss["noobject"]) == pytest.approx(0.25)


def test_yolov1_loss_hand_worked():
    from archspec.backends.pytorch.runtime.yolo import yolov1_loss

    # S = 1, B = 2, C = 2, a 64 px image. Box 0: centre (0.5, 0.5), sqrt w = sqrt h = 0.5 (16 px),
    # confidence 0.4; box 1: centre (0.5, 0.5), sqrt w = sqrt h = 0.9 (51.84 px), confidence 0.2;
    # classes (0.3, 0.7). Ground truth [16, 16, 48, 48], class 1: 32 px, sqrt(w) = sqrt(0.5).
    # IoU of box 0: 256 / 1024 = 0.25; of box 1: 1024 / 51.84^2 = 0.38104: box 1 is responsible.
    #   coord    = 5 x [0 + 0 + 2 x (0.9 - sqrt 0.5)^2]
    #   object   = (0.2 - 1024 / 51.84^2)^2
    #   noobject = 0.5 x 0.4^2 = 0.08
    #   class    = (0.3 - 0)^2 + (0.7 - 1)^2 = 0.18
    output = torch.tensor([[0.5, 0.5, 0.5, 0.5, 0.4, 0.5, 0.5, 0.9, 0.9, 0.2, 0.3, 0.7]])
    targets = [{"boxes": torch.tensor([[16.0, 16.0, 48.0, 48.0]]), "labels": torch.tensor([1])}]
    loss = yolov1_loss(output, targets, 1, 2, 64.0, {"coord": 5.0, "noobject": 0.5})
    assert float(loss["coord"]) == pytest.approx(5 * 2 * (0.9 - math.sqrt(0.5)) ** 2, rel=1e-5)
    assert float(loss["object"]) == pytest.approx((0.2 - 1024 / 51.84 ** 2) ** 2, rel=1e-5)
    assert float(loss["noobject"]) == pytest.approx(0.08)
    assert float(loss["class"]) == pytest.approx(0.18)


# ------------------------------------------------------------------ every detector runs and learns

SMALL = {
    "yolov2": ("yolo/yolov2.yaml", {"base": 4, "num_classes": 3}, 128, 0),
    "yolov1": ("yolo/yolov1.yaml", {"width": 4, "hidden": 64, "grid": 2, "num_classes": 3}, 128, 0),
    "ssd300_vgg16": ("ssd/ssd300_vgg16.yaml", {"width": 4, "num_classes": 4}, None, 1),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_detector_runs_and_its_loss_falls(name, tmp_path):
    from archspec.detection.synthetic import synthetic_detection

    spec, params, size, first_label = SMALL[name]
    base = SPECS / spec
    path = variant(tmp_path, base, params, size, name=f"small_{name}")
    network, module = emitted(path, tmp_path, f"emitted_small_{name}", spec_path=(base.parent,))
    torch.manual_seed(0)
    model = getattr(module, f"small_{name}")()
    side = size or 300
    images, targets = synthetic_detection(4, side, seed=5, first_label=first_label)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss_now(seed=None):
        if seed is not None:  # the same dropout masks for the first and the last measurement
            torch.manual_seed(seed)
        if name.startswith("ssd"):
            return sum(model(images, targets).values())
        return sum(model.loss(model(torch.stack(images)), targets).values())

    model.train()
    first = float(loss_now(seed=1))
    for _ in range(8):
        optimiser.zero_grad()
        loss = loss_now()
        loss.backward()
        optimiser.step()
    assert float(loss_now(seed=1)) < 0.8 * first, name
    model.eval()
    with torch.no_grad():
        if name.startswith("ssd"):
            detections = model(images[:1])
        else:
            raw = model(torch.stack(images[:1]))
            boxes, scores = model.decode(raw)
            assert boxes.shape[1] == scores.shape[1] == network.detection.anchors_per_cell(
                network.detection.levels[0]) * (side // int(network.detection.levels[0].stride)) ** 2
            detections = model.postprocess(raw)
    assert set(detections[0]) == {"boxes", "scores", "labels"}
    # The emitted detector scripts, and the scripted one answers alike.
    scripted = torch.jit.script(model)
    with torch.no_grad():
        if name.startswith("ssd"):
            assert torch.equal(scripted(images[:1])[0]["boxes"], detections[0]["boxes"])
        else:
            assert torch.equal(scripted(torch.stack(images[:1])), raw)
