"""mAP: a hand-worked example, and pycocotools' COCOeval (the reference torchmetrics wraps) on synthetic data."""

import contextlib
import io

import pytest
import torch

from archspec.detection.evaluate import ClassCurve, average_precision, match_detections, mean_average_precision
from archspec.detection.synthetic import synthetic_detection


def test_hand_worked_example():
    # One image, two ground-truth boxes of class 1. Three detections, best first:
    #   0.9 on box A (IoU 1: true positive), 0.8 on box A again (A is taken: false positive),
    #   0.7 half over box B (IoU 50/150 = 1/3 < 0.5: false positive). Box B is never found.
    # Precision 1, 1/2, 1/3 at recall 1/2, 1/2, 1/2: AP ("all") = 1/2 x 1 = 0.5;
    # COCO's 101 recalls: 0 … 0.5 (51 of them) at precision 1, the rest 0: 51/101.
    target = {"boxes": torch.tensor([[0., 0., 10., 10.], [20., 20., 30., 30.]]), "labels": torch.tensor([1, 1])}
    prediction = {"boxes": torch.tensor([[0., 0., 10., 10.], [0., 0., 10., 10.], [25., 20., 35., 30.]]),
                  "scores": torch.tensor([0.9, 0.8, 0.7]), "labels": torch.tensor([1, 1, 1])}
    curve = match_detections([prediction], [target], 1)
    assert curve.true_positive == [True, False, False] and curve.ground_truths == 2
    assert average_precision(curve) == pytest.approx(0.5)
    assert average_precision(curve, "coco") == pytest.approx(51 / 101)
    # A second class with no detections has AP 0, and the mean is over both classes.
    target2 = {"boxes": torch.cat([target["boxes"], torch.tensor([[50., 50., 60., 60.]])]),
               "labels": torch.tensor([1, 1, 2])}
    assert mean_average_precision([prediction], [target2])["map"] == pytest.approx(0.25)


def test_precision_made_non_increasing():
    # hits: miss, hit, hit over 2 boxes: precision 0, 1/2, 2/3 -> non-increasing 2/3, 2/3, 2/3; recall 0, .5, 1
    curve = ClassCurve(1, [3.0, 2.0, 1.0], [False, True, True], 2)
    assert average_precision(curve) == pytest.approx(2 / 3)


def _coco_reference(predictions, targets):
    pytest.importorskip("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(box):
        x1, y1, x2, y2 = box.tolist()
        return [x1, y1, x2 - x1, y2 - y1]

    labels = sorted({int(l) for t in targets for l in t["labels"]})
    truth = {"images": [{"id": i} for i in range(len(targets))], "categories": [{"id": l} for l in labels],
             "annotations": [{"id": len(targets) * 100 + 1 + k * 1000 + i, "image_id": i, "category_id": int(l),
                              "bbox": xywh(b), "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0}
                             for i, t in enumerate(targets) for k, (b, l) in enumerate(zip(t["boxes"], t["labels"]))]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = truth
        gt.createIndex()
        dt = gt.loadRes([{"image_id": i, "category_id": int(l), "bbox": xywh(b), "score": float(s)}
                         for i, p in enumerate(predictions)
                         for b, l, s in zip(p["boxes"], p["labels"], p["scores"])])
        evaluation = COCOeval(gt, dt, "bbox")
        evaluation.params.iouThrs = [0.5]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][0, :, :, 0, -1]  # recalls x classes, all areas, 100 detections
    return {label: float(precision[:, k].mean()) for k, label in enumerate(labels)}


def test_matches_cocoeval_on_synthetic_detections():
    _, targets = synthetic_detection(40, 96, seed=1)
    generator = torch.Generator().manual_seed(3)
    predictions = []
    for target in targets:
        boxes = target["boxes"] + torch.randn(target["boxes"].shape, generator=generator) * 6
        boxes = torch.cat([torch.minimum(boxes[:, :2], boxes[:, 2:] - 1), torch.maximum(boxes[:, 2:], boxes[:, :2] + 1)], 1)
        extra = torch.rand(3, 2, generator=generator) * 60
        predictions.append({"boxes": torch.cat([boxes, torch.cat([extra, extra + 20], 1)]),
                            "scores": torch.rand(len(boxes) + 3, generator=generator),
                            "labels": torch.cat([target["labels"], torch.randint(1, 4, (3,), generator=generator)])})
    reference = _coco_reference(predictions, targets)
    ours = mean_average_precision(predictions, targets, interpolation="coco")["per_class"]
    assert ours.keys() == reference.keys()
    for label in ours:
        assert ours[label] == pytest.approx(reference[label], abs=1e-9), label


def test_synthetic_data_is_deterministic_and_boxed():
    images, targets = synthetic_detection(6, 64, seed=4, first_label=0)
    again, targets_again = synthetic_detection(6, 64, seed=4, first_label=0)
    assert all(torch.equal(a, b) for a, b in zip(images, again))
    assert all(torch.equal(a["boxes"], b["boxes"]) for a, b in zip(targets, targets_again))
    for image, target in zip(images, targets):
        assert image.shape == (3, 64, 64) and 0 <= float(image.min()) and float(image.max()) <= 1
        boxes = target["boxes"]
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 64).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        assert set(target["labels"].tolist()) <= {0, 1, 2}
        # each shape changed the pixels of its box: the box is not empty background
        x1, y1, x2, y2 = boxes[-1].round().int().tolist()
        assert image[:, y1:y2, x1:x2].std() > 0
