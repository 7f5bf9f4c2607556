"""The runtime functions emitted into detectors, against torchvision's own components; and the torch-free
anchor geometry against the runtime's anchors."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from torchvision.models.detection import _utils as det_utils  # noqa: E402
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator  # noqa: E402
from torchvision.models.detection.image_list import ImageList  # noqa: E402
from torchvision.ops import box_iou  # noqa: E402

from archspec.backends.pytorch.runtime import boxes as runtime  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402
from archspec.detection.anchors import anchor_table  # noqa: E402
from tests.conftest import SPECS  # noqa: E402

SSD_RATIOS = [[2], [2, 3], [2, 3], [2, 3], [2], [2]]
SSD_SCALES = [0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05]
SSD_STEPS = [8, 16, 32, 64, 100, 300]
SSD_GRIDS = [38, 19, 10, 5, 3, 1]


def random_boxes(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    corner = torch.rand(count, 2, generator=generator) * 100
    return torch.cat([corner, corner + 1 + torch.rand(count, 2, generator=generator) * 50], dim=1)


def test_box_coding_matches_torchvision():
    coder = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0))
    boxes, anchors = random_boxes(50, 0), random_boxes(50, 1)
    assert torch.equal(runtime.encode_boxes(boxes, anchors, (10.0, 10.0, 5.0, 5.0)), coder.encode_single(boxes, anchors))
    offsets = torch.randn(50, 4, generator=torch.Generator().manual_seed(2)) * 3
    assert torch.equal(runtime.decode_boxes(offsets, anchors, (10.0, 10.0, 5.0, 5.0)), coder.decode_single(offsets, anchors))


def test_matching_matches_torchvision():
    iou = box_iou(random_boxes(6, 3), random_boxes(200, 4))
    assert torch.equal(runtime.match_anchors(iou, 0.7, 0.3, True), det_utils.Matcher(0.7, 0.3, True)(iou))
    assert torch.equal(runtime.match_anchors(iou, 0.5, 0.4), det_utils.Matcher(0.5, 0.4)(iou))
    assert torch.equal(runtime.match_every_box(iou, 0.5), det_utils.SSDMatcher(0.5)(iou))


def test_ssd_default_boxes_match_torchvision_and_the_anchors_command():
    generator = DefaultBoxGenerator(SSD_RATIOS, scales=SSD_SCALES, steps=SSD_STEPS)
    features = [torch.zeros(1, 1, s, s) for s in SSD_GRIDS]
    expected = generator(ImageList(torch.zeros(1, 3, 300, 300), [(300, 300)]), features)[0]
    ours = runtime.ssd_default_boxes((300, 300), [(s, s) for s in SSD_GRIDS], SSD_STEPS, SSD_SCALES, SSD_RATIOS)
    assert ours.shape == (8732, 4) and torch.equal(ours, expected)
    # The torch-free table (archspec anchors) gives the same grids, K and box sizes.
    levels = anchor_table(compile_spec(SPECS / "ssd/ssd300_vgg16.yaml"))
    assert [l.grid for l in levels] == [(s, s) for s in SSD_GRIDS] and sum(l.total for l in levels) == 8732
    first = 0
    for level in levels:
        cell = ours[first:first + level.per_cell]  # the K boxes of the level's first cell
        widths = (cell[:, 2] - cell[:, 0]).tolist()
        # the runtime's boxes are cut by the image at the border; the table's are the shapes themselves
        assert all(w <= s[0] + 1e-4 for w, s in zip(widths, level.shapes))
        centre_cell = ours[first + level.per_cell * (level.grid[1] * (level.grid[0] // 2) + level.grid[1] // 2):][:level.per_cell]
        if level.grid[0] > 2:
            assert (centre_cell[:, 2] - centre_cell[:, 0]).tolist() == pytest.approx([w for w, _ in level.shapes], abs=1e-3)
        first += level.total


def test_grid_anchors_match_torchvision():
    sizes, ratios = [[32.0], [64.0], [128.0]], [[0.5, 1.0, 2.0]] * 3
    generator = AnchorGenerator(((32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 3)
    grids = [(50, 50), (25, 25), (13, 13)]
    features = [torch.zeros(1, 1, *g) for g in grids]
    expected = generator(ImageList(torch.zeros(1, 3, 200, 200), [(200, 200)]), features)[0]
    strides = [(200 // g[0], 200 // g[1]) for g in grids]  # torchvision's integer strides
    assert torch.equal(runtime.grid_anchors(grids, strides, sizes, ratios), expected)


def test_per_class_nms_keeps_the_best_of_each_class():
    boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 10]])
    scores = torch.tensor([[0.9, 0.0], [0.8, 0.0], [0.2, 0.1], [0.0, 0.7]])
    found = runtime.per_class_nms(boxes, scores, confidence=0.3, iou=0.5, top_k=10, candidates=10)
    # box 1 overlaps box 0 (IoU 0.68) in class 0 and goes; box 3 is class 1's, box 2 is under 0.3
    assert found["labels"].tolist() == [0, 1] and found["scores"].tolist() == pytest.approx([0.9, 0.7])
    assert len(runtime.per_class_nms(boxes, scores, 0.3, 0.5, 1, 10)["boxes"]) == 1
