"""SSD's input transform, head layout, multibox loss and detections, as torchvision's SSD computes
them."""

from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .boxes import clip_boxes, decode_boxes, encode_boxes, match_every_box, per_class_nms
from torchvision.ops import box_iou


def resize_and_normalise(images: List[Tensor], size: Tuple[int, int], mean: List[float], std: List[float]
                         ) -> Tensor:
    """The batch the network sees: each image (3, H, W), values in [0, 1], normalised per channel
    and resized to `size` (bilinear), in torchvision's order (normalise first)."""
    batch: List[Tensor] = []
    for image in images:
        shift = torch.tensor(mean, dtype=image.dtype, device=image.device)[:, None, None]
        scale = torch.tensor(std, dtype=image.dtype, device=image.device)[:, None, None]
        image = (image - shift) / scale
        batch.append(F.interpolate(image[None], size=[size[0], size[1]], mode="bilinear", align_corners=False)[0])
    return torch.stack(batch)


def scale_boxes(boxes: Tensor, old_size: Tuple[int, int], new_size: Tuple[int, int]) -> Tensor:
    """Boxes of an image of `old_size` (height, width) moved onto the same image at `new_size`."""
    ratio_h = torch.tensor(new_size[0], dtype=torch.float32) / torch.tensor(old_size[0], dtype=torch.float32)
    ratio_w = torch.tensor(new_size[1], dtype=torch.float32) / torch.tensor(old_size[1], dtype=torch.float32)
    x1, y1, x2, y2 = boxes.unbind(1)
    return torch.stack((x1 * ratio_w, y1 * ratio_h, x2 * ratio_w, y2 * ratio_h), dim=1)


def flatten_levels(maps: List[Tensor], columns: int) -> Tensor:
    """Per-level head maps (N, K x columns, H, W) as one (N, sum of H x W x K, columns) tensor:
    positions row by row, the K anchors of a position together — the order of the default boxes."""
    flat: List[Tensor] = []
    for values in maps:
        n, _, height, width = values.shape
        flat.append(values.view(n, -1, columns, height, width).permute(0, 3, 4, 1, 2).reshape(n, -1, columns))
    return torch.cat(flat, dim=1)


def multibox_loss(scores: Tensor, offsets: Tensor, anchors: Tensor, targets: List[Dict[str, Tensor]],
                  weights: Tuple[float, float, float, float], match_iou: float, negatives_per_positive: float
                  ) -> Dict[str, Tensor]:
    """SSD's loss, summed over the batch and divided by the number of matched anchors: smooth L1
    between the predicted and the true offsets of every anchor matched to a box (IoU at least
    `match_iou`, and each box's best anchor), and cross-entropy over the classes for the matched
    anchors and for the hardest background anchors, `negatives_per_positive` of them per match
    (hard negative mining: the background anchors the network is most wrong about)."""
    box_losses: List[Tensor] = []
    class_targets: List[Tensor] = []
    matched = 0
    for image_scores, image_offsets, target in zip(scores, offsets, targets):
        if target["boxes"].numel() == 0:
            matches = torch.full((anchors.size(0),), -1, dtype=torch.int64)
        else:
            matches = match_every_box(box_iou(target["boxes"], anchors), match_iou)
        foreground = torch.where(matches >= 0)[0]
        boxes = target["boxes"][matches[foreground]]
        matched += foreground.numel()
        true_offsets = encode_boxes(boxes, anchors[foreground], weights)
        box_losses.append(F.smooth_l1_loss(image_offsets[foreground], true_offsets, reduction="sum"))
        labels = torch.zeros(image_scores.size(0), dtype=torch.int64)
        labels[foreground] = target["labels"][matches[foreground]]
        class_targets.append(labels)
    labels = torch.stack(class_targets)
    classes = scores.size(-1)
    losses = F.cross_entropy(scores.reshape(-1, classes), labels.view(-1), reduction="none").view(labels.size())
    positive = labels > 0
    negatives = negatives_per_positive * positive.sum(1, keepdim=True)
    background = losses.clone()
    background[positive] = -float("inf")  # never pick a matched anchor as a negative
    _, order = background.sort(1, descending=True)
    hardest = order.sort(1)[1] < negatives  # each anchor's rank among the background losses
    divisor = max(1, matched)
    return {"bbox_regression": torch.stack(box_losses).sum() / divisor,
            "classification": (losses[positive].sum() + losses[hardest].sum()) / divisor}


def ssd_detections(scores: Tensor, offsets: Tensor, anchors: Tensor, image_size: Tuple[int, int],
                   weights: Tuple[float, float, float, float], confidence: float, iou: float, top_k: int,
                   candidates: int) -> List[Dict[str, Tensor]]:
    """Per image: boxes decoded from the offsets, cut to the image, class probabilities by softmax
    (column 0 is the background), then per-class suppression (`per_class_nms`)."""
    probabilities = F.softmax(scores, dim=-1)
    detections: List[Dict[str, Tensor]] = []
    for image_offsets, image_probabilities in zip(offsets, probabilities):
        boxes = clip_boxes(decode_boxes(image_offsets, anchors, weights), image_size[0], image_size[1])
        detections.append(per_class_nms(boxes, image_probabilities, confidence, iou, top_k, candidates, 1))
    return detections
