"""What a two-stage detector does besides its layers: Faster R-CNN's image transform, anchors, proposals,
training targets, the four losses and the detections.

This is real, tested Python; `archspec build` copies these classes and the functions they use into the
emitted file of every `faster_rcnn` detector (see `source.py`), so that the file stays standalone and
readable. The semantics are torchvision's (`models/detection`), so that a model built from
a spec and torchvision's Faster R-CNN give the same proposals, detections and losses on the same weights.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import MultiScaleRoIAlign, batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes

from .boxes import decode_boxes, encode_boxes, grid_anchors, match_anchors
from .ssd import flatten_levels, scale_boxes

# RoI Align is torchvision's: the emitted network constructs it (the roi_align op), this module does not.
__all__ = ["MultiScaleRoIAlign", "DetectionTransform", "AnchorGenerator", "RegionProposals", "DetectionHeads"]


class DetectionTransform(nn.Module):
    """Normalises each image, resizes it so that its short side is `min_size` (its long side at most
    `max_size`), and pads the batch with zeros to a multiple of `size_divisible`; boxes follow the
    resize."""

    def __init__(self, min_size: int, max_size: int, image_mean: List[float], image_std: List[float],
                 size_divisible: int = 32) -> None:
        super().__init__()
        self.min_size = min_size
        self.max_size = max_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.size_divisible = size_divisible

    def forward(self, images: List[Tensor], targets: Optional[List[Dict[str, Tensor]]] = None
                ) -> Tuple[Tensor, List[Tuple[int, int]], Optional[List[Dict[str, Tensor]]]]:
        resized: List[Tensor] = []
        resized_targets: List[Dict[str, Tensor]] = []
        for index, image in enumerate(images):
            image = self.resize(self.normalize(image))
            resized.append(image)
            if targets is not None:
                target = dict(targets[index])  # the caller's targets stay as they were
                target["boxes"] = scale_boxes(target["boxes"], (images[index].shape[-2], images[index].shape[-1]),
                                              (image.shape[-2], image.shape[-1]))
                resized_targets.append(target)
        image_sizes = [(image.shape[-2], image.shape[-1]) for image in resized]
        return self.batch(resized), image_sizes, resized_targets if targets is not None else None

    def normalize(self, image: Tensor) -> Tensor:
        mean = torch.as_tensor(self.image_mean, dtype=image.dtype, device=image.device)
        std = torch.as_tensor(self.image_std, dtype=image.dtype, device=image.device)
        return (image - mean[:, None, None]) / std[:, None, None]

    def resize(self, image: Tensor) -> Tensor:
        short, long = min(image.shape[-2:]), max(image.shape[-2:])
        scale = min(self.min_size / short, self.max_size / long)
        return F.interpolate(image[None], scale_factor=scale, mode="bilinear", recompute_scale_factor=True,
                             align_corners=False)[0]

    def batch(self, images: List[Tensor]) -> Tensor:
        """One zero-padded tensor, its height and width rounded up to a multiple of
        `size_divisible`."""
        stride = float(self.size_divisible)
        height = int(math.ceil(max(image.shape[-2] for image in images) / stride) * stride)
        width = int(math.ceil(max(image.shape[-1] for image in images) / stride) * stride)
        batch = images[0].new_zeros((len(images), images[0].shape[0], height, width))
        for index, image in enumerate(images):
            batch[index, :, :image.shape[-2], :image.shape[-1]].copy_(image)
        return batch

    def postprocess(self, detections: List[Dict[str, Tensor]], image_sizes: List[Tuple[int, int]],
                    original_sizes: List[Tuple[int, int]]) -> List[Dict[str, Tensor]]:
        """The boxes mapped back from the resized images to the caller's."""
        for detection, size, original in zip(detections, image_sizes, original_sizes):
            detection["boxes"] = scale_boxes(detection["boxes"], size, original)
        return detections


class AnchorGenerator(nn.Module):
    """K = len(sizes[l]) x len(aspect_ratios[l]) anchors centred on every position of level l, at
    the stride of that level in the padded batch (its size over the level's grid)."""

    def __init__(self, sizes: List[List[float]], aspect_ratios: List[List[float]]) -> None:
        super().__init__()
        self.sizes = sizes
        self.aspect_ratios = aspect_ratios

    def forward(self, batch: Tensor, feature_maps: List[Tensor]) -> List[Tensor]:
        """The anchors of every level, concatenated, once per image of the batch."""
        grids = [(int(f.shape[-2]), int(f.shape[-1])) for f in feature_maps]
        strides = [(int(batch.shape[-2]) // rows, int(batch.shape[-1]) // columns) for rows, columns in grids]
        anchors = grid_anchors(grids, strides, self.sizes, self.aspect_ratios)
        return [anchors.to(dtype=feature_maps[0].dtype, device=feature_maps[0].device)] * batch.shape[0]


def decode_per_class(deltas: Tensor, references: Tensor, weights: Tuple[float, float, float, float]) -> Tensor:
    """Boxes from deltas of shape (N, 4 x classes) on N references: (N, classes, 4)."""
    per_reference = deltas.shape[1] // 4
    references = references.repeat_interleave(per_reference, dim=0)
    boxes = decode_boxes(deltas.reshape(-1, 4), references, weights)
    return boxes.reshape(deltas.shape[0], per_reference, 4)


def sample(labels: Tensor, batch_size: int, positive_fraction: float) -> Tensor:
    """Indices of a random sample of at most `batch_size` positives (label >= 1) and negatives
    (label 0), at most `positive_fraction` of it positive, the rest negative; ignored labels (-1)
    are never drawn. The indices come in increasing order."""
    positive = torch.where(labels >= 1)[0]
    negative = torch.where(labels == 0)[0]
    positives = min(positive.numel(), int(batch_size * positive_fraction))
    negatives = min(negative.numel(), batch_size - positives)
    chosen = torch.zeros_like(labels, dtype=torch.bool)
    chosen[positive[torch.randperm(positive.numel(), device=labels.device)[:positives]]] = True
    chosen[negative[torch.randperm(negative.numel(), device=labels.device)[:negatives]]] = True
    return torch.where(chosen)[0]


class RegionProposals(nn.Module):
    """The RPN's second half: anchors and head outputs become proposals (decode, the `pre_nms_top_n`
    best of every level, clip, NMS per level, the `post_nms_top_n` best), and, in training, its two
    losses on a balanced sample of labelled anchors."""

    def __init__(self, pre_nms_top_n: Dict[str, int], post_nms_top_n: Dict[str, int], nms_thresh: float,
                 score_thresh: float, fg_iou_thresh: float, bg_iou_thresh: float, batch_size_per_image: int,
                 positive_fraction: float) -> None:
        super().__init__()
        self.pre_nms_top_n = pre_nms_top_n  # {"train": …, "test": …}
        self.post_nms_top_n = post_nms_top_n
        self.nms_thresh = nms_thresh
        self.score_thresh = score_thresh
        self.fg_iou_thresh = fg_iou_thresh
        self.bg_iou_thresh = bg_iou_thresh
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction
        self.box_weights = (1.0, 1.0, 1.0, 1.0)  # the RPN's deltas are not scaled
        self.min_size = 1e-3  # proposals narrower or lower than this are dropped

    def forward(self, anchors: List[Tensor], objectness: List[Tensor], deltas: List[Tensor],
                image_sizes: List[Tuple[int, int]]) -> List[Tensor]:
        """The proposals of every image, best first."""
        phase = "train" if self.training else "test"
        per_level = [o.shape[1] * o.shape[2] * o.shape[3] for o in objectness]
        scores = flatten_levels(objectness, 1).flatten(1).detach()
        boxes = decode_per_class(flatten_levels(deltas, 4).reshape(-1, 4).detach(), torch.cat(anchors),
                                 self.box_weights)
        boxes = boxes.view(len(anchors), -1, 4)
        levels = torch.cat([torch.full((n,), level, dtype=torch.int64, device=scores.device)
                            for level, n in enumerate(per_level)])
        top = self.top_per_level(scores, per_level, self.pre_nms_top_n[phase])
        proposals: List[Tensor] = []
        for image, size in enumerate(image_sizes):
            image_boxes = clip_boxes_to_image(boxes[image, top[image]], size)
            image_scores = torch.sigmoid(scores[image, top[image]])
            image_levels = levels[top[image]]
            keep = remove_small_boxes(image_boxes, self.min_size)
            keep = keep[image_scores[keep] >= self.score_thresh]
            kept = batched_nms(image_boxes[keep], image_scores[keep], image_levels[keep], self.nms_thresh)
            proposals.append(image_boxes[keep][kept[:self.post_nms_top_n[phase]]])
        return proposals

    @staticmethod
    def top_per_level(scores: Tensor, per_level: List[int], count: int) -> Tensor:
        """Indices of the `count` best anchors of every level (all of a smaller level), per
        image."""
        indices: List[Tensor] = []
        offset = 0
        for level in scores.split(per_level, dim=1):
            indices.append(level.topk(min(count, level.shape[1]), dim=1).indices + offset)
            offset += level.shape[1]
        return torch.cat(indices, dim=1)

    def loss(self, anchors: List[Tensor], objectness: List[Tensor], deltas: List[Tensor],
             targets: List[Dict[str, Tensor]]) -> Dict[str, Tensor]:
        """Objectness (binary cross-entropy) on the sampled anchors, box regression (smooth L1) on
        the sampled positives only, both over the number sampled."""
        scores = flatten_levels(objectness, 1).reshape(-1)
        predicted = flatten_levels(deltas, 4).reshape(-1, 4)
        labels: List[Tensor] = []
        regression: List[Tensor] = []
        for image_anchors, target in zip(anchors, targets):
            image_labels, matched = self.label_anchors(image_anchors, target["boxes"])
            labels.append(image_labels)
            regression.append(encode_boxes(matched, image_anchors, self.box_weights))
        offsets = [0]
        for image_labels in labels[:-1]:
            offsets.append(offsets[-1] + image_labels.numel())
        chosen = [sample(l, self.batch_size_per_image, self.positive_fraction) for l in labels]
        all_labels, all_regression = torch.cat(labels), torch.cat(regression)
        positive = torch.cat([c[l[c] >= 1] + o for c, l, o in zip(chosen, labels, offsets)])
        negative = torch.cat([c[l[c] == 0] + o for c, l, o in zip(chosen, labels, offsets)])
        sampled = torch.cat([positive, negative])
        box_loss = F.smooth_l1_loss(predicted[positive], all_regression[positive], beta=1 / 9, reduction="sum")
        return {
            "loss_objectness": F.binary_cross_entropy_with_logits(scores[sampled], all_labels[sampled]),
            "loss_rpn_box_reg": box_loss / sampled.numel(),
        }

    def label_anchors(self, anchors: Tensor, truth: Tensor) -> Tuple[Tensor, Tensor]:
        """1 for a positive anchor, 0 for a negative, -1 for one left out; and the ground-truth box
        each anchor is compared with (any box, for one that is not positive: it has no box loss)."""
        if truth.numel() == 0:
            return torch.zeros(anchors.shape[0], device=anchors.device), torch.zeros_like(anchors)
        matches = match_anchors(box_iou(truth, anchors), self.fg_iou_thresh, self.bg_iou_thresh, True)
        labels = (matches >= 0).to(torch.float32)
        labels[matches == -2] = -1.0  # between the thresholds (match_anchors' -2): left out
        return labels, truth[matches.clamp(min=0)]


class DetectionHeads(nn.Module):
    """The second stage around its layers: in training, the proposals (and the ground-truth boxes)
    are labelled and a balanced sample kept; the classifier's cross-entropy and the box regression
    of the true class are its losses. In evaluation, the per-class boxes are decoded, clipped,
    thresholded and suppressed class by class."""

    def __init__(self, fg_iou_thresh: float, bg_iou_thresh: float, batch_size_per_image: int,
                 positive_fraction: float, bbox_reg_weights: Tuple[float, float, float, float],
                 score_thresh: float, nms_thresh: float, detections_per_img: int) -> None:
        super().__init__()
        self.fg_iou_thresh = fg_iou_thresh
        self.bg_iou_thresh = bg_iou_thresh
        self.batch_size_per_image = batch_size_per_image
        self.positive_fraction = positive_fraction
        self.box_weights = bbox_reg_weights
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.detections_per_img = detections_per_img

    def select_training_samples(self, proposals: List[Tensor], targets: List[Dict[str, Tensor]]
                                ) -> Tuple[List[Tensor], Tensor, Tensor]:
        """The sampled proposals of every image (the ground-truth boxes are proposals too), their
        class labels (0: background) and the deltas from each to its ground truth."""
        sampled: List[Tensor] = []
        labels: List[Tensor] = []
        regression: List[Tensor] = []
        for image_proposals, target in zip(proposals, targets):
            truth = target["boxes"].to(image_proposals.dtype)
            image_proposals = torch.cat([image_proposals, truth])
            image_labels, matched = self.label_proposals(image_proposals, truth, target["labels"])
            chosen = sample(image_labels, self.batch_size_per_image, self.positive_fraction)
            sampled.append(image_proposals[chosen])
            labels.append(image_labels[chosen])
            regression.append(encode_boxes(matched[chosen], image_proposals[chosen], self.box_weights))
        return sampled, torch.cat(labels), torch.cat(regression)

    def label_proposals(self, proposals: Tensor, truth: Tensor, classes: Tensor) -> Tuple[Tensor, Tensor]:
        if truth.numel() == 0:
            zeros = torch.zeros(proposals.shape[0], dtype=torch.int64, device=proposals.device)
            return zeros, torch.zeros_like(proposals)
        matches = match_anchors(box_iou(truth, proposals), self.fg_iou_thresh, self.bg_iou_thresh)
        labels = classes[matches.clamp(min=0)].to(torch.int64)
        labels[matches == -1] = 0  # below the low threshold: background
        labels[matches == -2] = -1  # between the thresholds: left out of the sample
        return labels, truth[matches.clamp(min=0)]

    @staticmethod
    def loss(class_logits: Tensor, box_regression: Tensor, labels: Tensor, regression: Tensor
             ) -> Dict[str, Tensor]:
        """Cross-entropy over the classes; smooth L1 of the deltas predicted for the true class of
        each positive proposal, over the number of sampled proposals."""
        positive = torch.where(labels > 0)[0]
        deltas = box_regression.reshape(box_regression.shape[0], -1, 4)[positive, labels[positive]]
        box_loss = F.smooth_l1_loss(deltas, regression[positive], beta=1 / 9, reduction="sum")
        return {"loss_classifier": F.cross_entropy(class_logits, labels), "loss_box_reg": box_loss / labels.numel()}

    def detections(self, class_logits: Tensor, box_regression: Tensor, proposals: List[Tensor],
                   image_sizes: List[Tuple[int, int]]) -> List[Dict[str, Tensor]]:
        """Per image: {boxes, labels, scores}, at most `detections_per_img`, best first."""
        classes = class_logits.shape[-1]
        counts = [p.shape[0] for p in proposals]
        boxes_per_image = decode_per_class(box_regression, torch.cat(proposals), self.box_weights).split(counts)
        scores_per_image = F.softmax(class_logits, -1).split(counts)
        results: List[Dict[str, Tensor]] = []
        for boxes, scores, size in zip(boxes_per_image, scores_per_image, image_sizes):
            boxes = clip_boxes_to_image(boxes, size)
            labels = torch.arange(classes, device=scores.device).view(1, -1).expand_as(scores)
            # Class 0 is the background: one candidate per proposal and true class.
            boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
            keep = torch.where(scores > self.score_thresh)[0]
            keep = keep[remove_small_boxes(boxes[keep], min_size=1e-2)]
            kept = keep[batched_nms(boxes[keep], scores[keep], labels[keep], self.nms_thresh)]
            kept = kept[:self.detections_per_img]
            results.append({"boxes": boxes[kept], "labels": labels[kept], "scores": scores[kept]})
        return results
