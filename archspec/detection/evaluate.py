"""Detection quality: IoU matching of detections to ground truth, precision–recall, AP per class, mAP.

Needs torch (for IoU through `torchvision.ops.box_iou`); imported by tests and scripts only.
Predictions and targets use torchvision's format: per image a dict with `boxes` (x1, y1, x2, y2),
`labels` and, for predictions, `scores`.

Matching follows COCO's rule, for each class and image: detections best first, each takes the
unmatched ground-truth box it overlaps most, if that IoU reaches the threshold (a true positive);
otherwise it is a false positive. AP is the area under the precision–recall curve after making
precision non-increasing: either at every recall step ("all", PASCAL VOC since 2010) or sampled at the
101 recalls 0, 0.01, …, 1 ("coco", as pycocotools and torchmetrics compute it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

import torch
from torch import Tensor
from torchvision.ops import box_iou


@dataclass
class ClassCurve:
    label: int
    scores: list[float]  # every detection of the class, best first
    true_positive: list[bool]
    ground_truths: int

    def precision_recall(self) -> tuple[list[float], list[float]]:
        precision, recall, hits = [], [], 0
        for rank, hit in enumerate(self.true_positive, start=1):
            hits += hit
            precision.append(hits / rank)
            recall.append(hits / self.ground_truths)
        return precision, recall


def match_detections(predictions: List[Dict[str, Tensor]], targets: List[Dict[str, Tensor]], label: int,
                     iou_threshold: float = 0.5, max_detections: int = 100) -> ClassCurve:
    """The detections of class `label` over all images, best first, each marked true or false positive."""
    found: list[tuple[float, bool]] = []
    ground_truths = 0
    for prediction, target in zip(predictions, targets):
        order = torch.argsort(prediction["scores"], descending=True, stable=True)[:max_detections]
        kept = order[prediction["labels"][order] == label]
        boxes, scores = prediction["boxes"][kept], prediction["scores"][kept]
        truth = target["boxes"][target["labels"] == label]
        ground_truths += len(truth)
        taken = torch.zeros(len(truth), dtype=torch.bool)
        iou = box_iou(boxes, truth) if len(truth) and len(boxes) else torch.zeros(len(boxes), len(truth))
        for index in range(len(boxes)):
            overlaps = iou[index].masked_fill(taken, -1.0)
            best = int(overlaps.argmax()) if len(truth) else -1
            hit = best >= 0 and float(overlaps[best]) >= iou_threshold
            if hit:
                taken[best] = True
            found.append((float(scores[index]), hit))
    found.sort(key=lambda pair: -pair[0])  # stable: ties keep image order, as pycocotools' mergesort does
    return ClassCurve(label, [s for s, _ in found], [h for _, h in found], ground_truths)


def average_precision(curve: ClassCurve, interpolation: str = "all") -> float:
    """Area under the class's precision–recall curve, precision made non-increasing."""
    precision, recall = curve.precision_recall()
    for index in range(len(precision) - 2, -1, -1):
        precision[index] = max(precision[index], precision[index + 1])
    if interpolation == "coco":
        total = 0.0
        for level in torch.linspace(0, 1, 101, dtype=torch.float64).tolist():  # numpy's values, as COCO's
            position = next((i for i, r in enumerate(recall) if r >= level), None)
            total += precision[position] if position is not None else 0.0
        return total / 101
    area, previous = 0.0, 0.0
    for p, r in zip(precision, recall):
        area += (r - previous) * p
        previous = r
    return area


def mean_average_precision(predictions: List[Dict[str, Tensor]], targets: List[Dict[str, Tensor]],
                           iou_threshold: float = 0.5, interpolation: str = "all",
                           max_detections: int = 100) -> Dict[str, object]:
    """mAP at one IoU threshold over the classes that have ground truth, and AP per class."""
    labels = sorted({int(label) for target in targets for label in target["labels"]})
    per_class = {label: average_precision(match_detections(predictions, targets, label, iou_threshold,
                                                           max_detections), interpolation) for label in labels}
    mean = sum(per_class.values()) / len(per_class) if per_class else 0.0
    return {"map": mean, "per_class": per_class, "iou_threshold": iou_threshold}
