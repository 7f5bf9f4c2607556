"""The emitted Faster R-CNN against torchvision's fasterrcnn_resnet50_fpn, with batch norm and with frozen
batch norm: state_dict, eval (proposals and detections) and training (the four losses), on the same
weights, images and targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import ROOT, import_file

torch = pytest.importorskip("torch")
detection = pytest.importorskip("torchvision.models.detection")

SPECS = ROOT / "specs/resnet"
# Small images keep the test fast; both transforms are set to the same sizes.
MIN_SIZE, MAX_SIZE = 192, 320
# Each variant, torchvision's model of it and its parameter count.
VARIANTS = {"fasterrcnn_resnet50_fpn": 41_808_406, "fasterrcnn_resnet50_fpn_frozen_bn": 41_755_286}


def torchvision_model(name: str):
    if name == "fasterrcnn_resnet50_fpn":
        return detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    # How torchvision builds it for pretrained backbones: FrozenBatchNorm2d, every layer trainable here.
    from torchvision.models import resnet50
    from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
    from torchvision.ops import FrozenBatchNorm2d

    return detection.FasterRCNN(_resnet_fpn_extractor(resnet50(norm_layer=FrozenBatchNorm2d), 5), 91)


def emitted(tmp_path_factory: pytest.TempPathFactory, name: str):
    path = tmp_path_factory.mktemp("faster_rcnn") / f"{name}_emitted.py"
    path.write_text(emit_pytorch(compile_spec(SPECS / f"{name}.yaml")))
    return getattr(import_file(path, path.stem), name)


def small(reference, ours) -> None:
    reference.transform.min_size, reference.transform.max_size = (MIN_SIZE,), MAX_SIZE
    ours.transform.min_size, ours.transform.max_size = MIN_SIZE, MAX_SIZE


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def pair(request, tmp_path_factory: pytest.TempPathFactory):
    factory = emitted(tmp_path_factory, request.param)
    torch.manual_seed(0)
    reference = torchvision_model(request.param)
    torch.manual_seed(0)
    ours = factory()
    # Compared here, before the tests below load other weights into both.
    theirs, mine = reference.state_dict(), ours.state_dict()
    initially_different = [k for k, v in theirs.items() if k in mine and not torch.equal(mine[k], v)]
    return reference, ours, VARIANTS[request.param], initially_different


def test_state_dict_keys_and_shapes_are_torchvisions(pair) -> None:
    reference, ours, parameters, _ = pair
    theirs, mine = reference.state_dict(), ours.state_dict()
    assert list(mine) == list(theirs)
    assert all(mine[k].shape == v.shape for k, v in theirs.items())
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters()) == parameters


def test_initial_weights_are_torchvisions(pair) -> None:
    """Under one seed, tensor for tensor: the ResNet body drawn as torchvision's whole ResNet-50 (its dropped
    fc included), then the pyramid, the RPN head and the box head, each initialised as it is built."""
    assert pair[3] == []


def test_eval_gives_torchvisions_proposals_and_detections(pair) -> None:
    reference, ours, _, _ = pair
    state = reference.state_dict()
    # Random weights score every class near 1/91, below the 0.05 threshold: sharpen the classifier so that
    # there are detections to compare (on both sides, through the state_dict).
    state["roi_heads.box_predictor.cls_score.weight"] = state["roi_heads.box_predictor.cls_score.weight"] * 40
    reference.load_state_dict(state)
    ours.load_state_dict(state)
    small(reference, ours)
    reference.eval()
    ours.eval()
    seen = {}
    hooks = [reference.rpn.register_forward_hook(lambda m, i, o: seen.__setitem__("theirs", o[0])),
             ours.region_proposals.register_forward_hook(lambda m, i, o: seen.__setitem__("mine", o))]
    generator = torch.Generator().manual_seed(1)
    images = [torch.rand(3, 150, 200, generator=generator), torch.rand(3, 210, 160, generator=generator)]
    with torch.no_grad():
        theirs, mine = reference(images), ours(images)
    for hook in hooks:
        hook.remove()
    for proposals_theirs, proposals_mine in zip(seen["theirs"], seen["mine"]):
        assert proposals_mine.shape == proposals_theirs.shape and proposals_mine.shape[0] > 100
        assert (proposals_mine - proposals_theirs).abs().max().item() <= 1e-4
    assert len(mine) == len(theirs) == 2
    for image_mine, image_theirs in zip(mine, theirs):
        assert set(image_mine) == {"boxes", "labels", "scores"}
        assert image_mine["boxes"].shape == image_theirs["boxes"].shape and image_mine["boxes"].shape[0] > 0
        assert (image_mine["boxes"] - image_theirs["boxes"]).abs().max().item() <= 1e-4
        assert torch.equal(image_mine["labels"], image_theirs["labels"])
        assert (image_mine["scores"] - image_theirs["scores"]).abs().max().item() <= 1e-5


def test_training_gives_torchvisions_four_losses(pair) -> None:
    reference, ours, _, _ = pair
    ours.load_state_dict(reference.state_dict())
    small(reference, ours)
    # Sample sizes above the number of candidates: both sides keep every labelled anchor and proposal,
    # so their random draws do not matter.
    for sampler in (reference.rpn.fg_bg_sampler, reference.roi_heads.fg_bg_sampler):
        sampler.batch_size_per_image = 10 ** 6
    ours.region_proposals.batch_size_per_image = ours.detection_heads.batch_size_per_image = 10 ** 6
    # The lecture's "top 300" proposals while training, on both sides, to keep the second stage small.
    reference.rpn._pre_nms_top_n["training"] = reference.rpn._post_nms_top_n["training"] = 300
    ours.region_proposals.pre_nms_top_n["train"] = ours.region_proposals.post_nms_top_n["train"] = 300
    reference.train()
    ours.train()
    images = [torch.rand(3, 150, 200), torch.rand(3, 180, 140)]
    targets = [{"boxes": torch.tensor([[10.0, 20.0, 90.0, 100.0], [50.0, 40.0, 180.0, 140.0]]),
                "labels": torch.tensor([3, 7])},
               {"boxes": torch.tensor([[5.0, 5.0, 60.0, 120.0]]), "labels": torch.tensor([1])}]
    theirs = reference(images, targets)
    mine = ours(images, [dict(t) for t in targets])
    assert set(mine) == set(theirs) == {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}
    for name, value in theirs.items():
        assert abs(mine[name].item() - value.item()) <= 1e-5, name
        assert mine[name].item() > 0, name
    sum(mine.values()).backward()
    assert ours.roi_heads.box_head.fc6.weight.grad is not None and ours.rpn.head.cls_logits.weight.grad is not None
