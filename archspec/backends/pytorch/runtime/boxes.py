"""Boxes and anchors: coding offsets against anchors, matching anchors to boxes, per-class
suppression.

Boxes are (x1, y1, x2, y2) in pixels of the image the network sees. The semantics are torchvision's
(`BoxCoder`, `Matcher`, `SSDMatcher`, `AnchorGenerator`, `DefaultBoxGenerator`), so a detector built
from a spec and torchvision's own agree number for number.
"""

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor
from torchvision.ops import batched_nms


def encode_boxes(boxes: Tensor, anchors: Tensor, weights: Tuple[float, float, float, float]) -> Tensor:
    """The offsets (dx, dy, dw, dh) that move each anchor onto its box: centre shifts in anchor
    widths, log size ratios, each scaled by its weight (SSD and Faster R-CNN's heads use (10, 10,
    5, 5))."""
    wx, wy, ww, wh = weights
    anchor_w = anchors[:, 2:3] - anchors[:, 0:1]
    anchor_h = anchors[:, 3:4] - anchors[:, 1:2]
    anchor_x = anchors[:, 0:1] + 0.5 * anchor_w
    anchor_y = anchors[:, 1:2] + 0.5 * anchor_h
    box_w = boxes[:, 2:3] - boxes[:, 0:1]
    box_h = boxes[:, 3:4] - boxes[:, 1:2]
    box_x = boxes[:, 0:1] + 0.5 * box_w
    box_y = boxes[:, 1:2] + 0.5 * box_h
    dx = wx * (box_x - anchor_x) / anchor_w
    dy = wy * (box_y - anchor_y) / anchor_h
    dw = ww * torch.log(box_w / anchor_w)
    dh = wh * torch.log(box_h / anchor_h)
    return torch.cat((dx, dy, dw, dh), dim=1)


def decode_boxes(offsets: Tensor, anchors: Tensor, weights: Tuple[float, float, float, float],
                 max_log_scale: float = math.log(1000.0 / 16)) -> Tensor:
    """The boxes that `offsets` (N, 4) describe relative to `anchors` (N, 4): the inverse of
    `encode_boxes`. Log scales are clamped so that one wild prediction cannot overflow exp()."""
    anchors = anchors.to(offsets.dtype)
    wx, wy, ww, wh = weights
    anchor_w = anchors[:, 2] - anchors[:, 0]
    anchor_h = anchors[:, 3] - anchors[:, 1]
    anchor_x = anchors[:, 0] + 0.5 * anchor_w
    anchor_y = anchors[:, 1] + 0.5 * anchor_h
    dx = offsets[:, 0] / wx
    dy = offsets[:, 1] / wy
    dw = torch.clamp(offsets[:, 2] / ww, max=max_log_scale)
    dh = torch.clamp(offsets[:, 3] / wh, max=max_log_scale)
    centre_x = dx * anchor_w + anchor_x
    centre_y = dy * anchor_h + anchor_y
    half_w = 0.5 * torch.exp(dw) * anchor_w
    half_h = 0.5 * torch.exp(dh) * anchor_h
    return torch.stack((centre_x - half_w, centre_y - half_h, centre_x + half_w, centre_y + half_h), dim=1)


def clip_boxes(boxes: Tensor, height: int, width: int) -> Tensor:
    """Boxes cut to the image."""
    x = boxes[:, 0::2].clamp(min=0, max=width)
    y = boxes[:, 1::2].clamp(min=0, max=height)
    return torch.stack((x[:, 0], y[:, 0], x[:, 1], y[:, 1]), dim=1)


def match_anchors(iou: Tensor, high: float, low: float, allow_low_quality: bool = False) -> Tensor:
    """For each anchor (a column of `iou`, boxes × anchors), the index of the box it is matched
    to: its best box if their IoU reaches `high`, -1 (background) below `low`, -2 (ignored)
    between. With `allow_low_quality`, each box also keeps the anchors that overlap it best, even
    below `high` (Faster R-CNN's rule, so that no box is left without an anchor)."""
    best_iou, matches = iou.max(dim=0)
    result = matches.clone()
    result[best_iou < low] = -1
    result[(best_iou >= low) & (best_iou < high)] = -2
    if allow_low_quality:
        best_per_box, _ = iou.max(dim=1)
        box_index, anchor_index = torch.where(iou == best_per_box[:, None])
        result[anchor_index] = matches[anchor_index]
    return result


def match_every_box(iou: Tensor, threshold: float) -> Tensor:
    """SSD's matching: anchors whose best IoU reaches `threshold` go to that box (else -1), and
    every box also takes the one anchor that overlaps it most, whatever the overlap."""
    matches = match_anchors(iou, threshold, threshold)
    _, best_anchor = iou.max(dim=1)
    matches[best_anchor] = torch.arange(best_anchor.size(0), dtype=torch.int64, device=best_anchor.device)
    return matches


def grid_anchors(grid_sizes: List[Tuple[int, int]], strides: List[Tuple[int, int]], sizes: List[List[float]],
                 aspect_ratios: List[List[float]]) -> Tensor:
    """Anchors (x1, y1, x2, y2) of every level, position and shape, as torchvision's
    AnchorGenerator lays them out: each size at each aspect ratio (height / width), rounded to
    whole pixels, centred on the top-left corner of each cell; positions row by row, the shapes
    of one position together."""
    anchors: List[Tensor] = []
    for (rows, columns), (stride_y, stride_x), level_sizes, ratios in zip(grid_sizes, strides, sizes,
                                                                          aspect_ratios):
        scales = torch.tensor(level_sizes, dtype=torch.float32)
        h_ratios = torch.sqrt(torch.tensor(ratios, dtype=torch.float32))
        widths = (scales[None, :] / h_ratios[:, None]).reshape(-1)
        heights = (scales[None, :] * h_ratios[:, None]).reshape(-1)
        base = (torch.stack((-widths, -heights, widths, heights), dim=1) / 2).round()
        shift_y, shift_x = torch.meshgrid(torch.arange(rows, dtype=torch.float32) * stride_y,
                                          torch.arange(columns, dtype=torch.float32) * stride_x, indexing="ij")
        shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=-1).reshape(-1, 1, 4)
        anchors.append((shifts + base[None]).reshape(-1, 4))
    return torch.cat(anchors)


def ssd_default_boxes(image_size: Tuple[int, int], grid_sizes: List[Tuple[int, int]], steps: List[int],
                      scales: List[float], aspect_ratios: List[List[float]]) -> Tensor:
    """SSD's default boxes (x1, y1, x2, y2) in pixels: on level k, squares of scale s_k and
    sqrt(s_k * s_k+1) and, for each aspect ratio r, boxes s_k*sqrt(r) wide and s_k/sqrt(r) high
    and the other way round; scales relative to the image, clipped to [0, 1]; centres at (j +
    0.5) * step."""
    height, width = image_size
    boxes: List[Tensor] = []
    for k, (rows, columns) in enumerate(grid_sizes):
        shapes = [[scales[k], scales[k]], [math.sqrt(scales[k] * scales[k + 1])] * 2]
        for ratio in aspect_ratios[k]:
            shapes.extend([[scales[k] * math.sqrt(ratio), scales[k] / math.sqrt(ratio)],
                           [scales[k] / math.sqrt(ratio), scales[k] * math.sqrt(ratio)]])
        wh = torch.tensor(shapes, dtype=torch.float32).clamp(min=0, max=1)
        centre_x = (torch.arange(columns) + 0.5) / (width / steps[k])
        centre_y = (torch.arange(rows) + 0.5) / (height / steps[k])
        cy, cx = torch.meshgrid(centre_y.float(), centre_x.float(), indexing="ij")
        centres = torch.stack((cx.reshape(-1), cy.reshape(-1)) * len(shapes), dim=-1).reshape(-1, 2)
        boxes.append(torch.cat((centres, wh.repeat(rows * columns, 1)), dim=1))
    relative = torch.cat(boxes)
    size = torch.tensor([width, height])
    return torch.cat(((relative[:, :2] - 0.5 * relative[:, 2:]) * size,
                      (relative[:, :2] + 0.5 * relative[:, 2:]) * size), dim=1)


def per_class_nms(boxes: Tensor, scores: Tensor, confidence: float, iou: float, top_k: int,
                  candidates: int, first_class: int = 0) -> Dict[str, Tensor]:
    """The detections of one image from `boxes` (N, 4) and class-specific confidences `scores`
    (N, C): per class, the boxes above `confidence`, at most `candidates` of them, best first;
    then non-maximum suppression within each class at IoU `iou`; the `top_k` best overall.
    Classes below `first_class` (a background column) are not detected."""
    kept_boxes: List[Tensor] = []
    kept_scores: List[Tensor] = []
    kept_labels: List[Tensor] = []
    for label in range(first_class, scores.size(1)):
        score = scores[:, label]
        keep = score > confidence
        score, box = score[keep], boxes[keep]
        score, order = score.topk(min(candidates, score.size(0)))
        kept_boxes.append(box[order])
        kept_scores.append(score)
        kept_labels.append(torch.full_like(score, label, dtype=torch.int64))
    all_boxes = torch.cat(kept_boxes)
    all_scores = torch.cat(kept_scores)
    all_labels = torch.cat(kept_labels)
    keep = batched_nms(all_boxes, all_scores, all_labels, iou)[:top_k]
    return {"boxes": all_boxes[keep], "scores": all_scores[keep], "labels": all_labels[keep]}
