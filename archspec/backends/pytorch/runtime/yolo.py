"""YOLO's decoding and losses: YOLOv1 (one grid, B free boxes per cell) and YOLOv2 (K anchors per
cell).

Targets use torchvision's format: per image {boxes: (M, 4) x1, y1, x2, y2 in input pixels, labels: (M,)}
with labels 0 … C - 1. Losses are summed over the batch and divided by its size.
"""

from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import box_convert, box_iou


def yolov2_cells(output: Tensor, anchors: int) -> Tensor:
    """The head's map (N, K x (5 + C), S, S) as (N, S, S, K, 5 + C): per cell and anchor, Darknet's
    (tx, ty, tw, th, objectness, class logits …)."""
    n, channels, rows, columns = output.shape
    return output.view(n, anchors, channels // anchors, rows, columns).permute(0, 3, 4, 1, 2)


def yolov2_boxes(cells: Tensor, anchors: List[Tuple[float, float]], stride: float) -> Tensor:
    """Predicted boxes (N, S, S, K, 4), x1, y1, x2, y2 in pixels: the centre is sigmoid(tx, ty) into
    the cell from its top-left corner, the size the anchor's scaled by exp(tw, th)."""
    rows, columns = cells.shape[1], cells.shape[2]
    cy, cx = torch.meshgrid(torch.arange(rows, dtype=cells.dtype), torch.arange(columns, dtype=cells.dtype),
                            indexing="ij")
    priors = torch.tensor(anchors, dtype=cells.dtype)
    x = (torch.sigmoid(cells[..., 0]) + cx[:, :, None]) * stride
    y = (torch.sigmoid(cells[..., 1]) + cy[:, :, None]) * stride
    w = priors[:, 0] * torch.exp(cells[..., 2]) * stride
    h = priors[:, 1] * torch.exp(cells[..., 3]) * stride
    return torch.stack((x - w / 2, y - h / 2, x + w / 2, y + h / 2), dim=-1)


def yolov2_decode(output: Tensor, anchors: List[Tuple[float, float]], stride: float) -> Tuple[Tensor, Tensor]:
    """Boxes (N, S x S x K, 4) and class-specific confidences (N, S x S x K, C): Pr(class | object)
    x Pr(object), softmax over the classes times the sigmoid of the objectness."""
    cells = yolov2_cells(output, len(anchors))
    boxes = yolov2_boxes(cells, anchors, stride)
    scores = torch.softmax(cells[..., 5:], dim=-1) * torch.sigmoid(cells[..., 4:5])
    n = output.size(0)
    return boxes.reshape(n, -1, 4), scores.reshape(n, -1, scores.size(-1))


def best_anchor(width: Tensor, height: Tensor, anchors: Tensor) -> Tensor:
    """For boxes of size (width, height), the anchor (w, h) of the highest IoU when both share a
    centre."""
    inter = torch.min(width[:, None], anchors[None, :, 0]) * torch.min(height[:, None], anchors[None, :, 1])
    union = (width * height)[:, None] + (anchors[:, 0] * anchors[:, 1])[None, :] - inter
    return (inter / union).argmax(dim=1)


def yolov2_loss(output: Tensor, targets: List[Dict[str, Tensor]], anchors: List[Tuple[float, float]],
                stride: float, weights: Dict[str, float]) -> Dict[str, Tensor]:
    """YOLOv2's loss, as Darknet's region layer computes it (without its warm-up prior term and its
    (2 - w h) coordinate scale). Each box is assigned to the cell its centre falls in and to the
    anchor whose shape overlaps it best (the responsible predictor). For that predictor:
      coord x [(sigmoid(tx) - x in cell)^2 + (sigmoid(ty) - y in cell)^2 + (tw - log(w / anchor
      w))^2
               + (th - log(h / anchor h))^2]
      object x (sigmoid(objectness) - IoU(predicted box, box))^2
      class x sum over classes (softmax - one-hot)^2
    and for every other predictor whose box overlaps no ground-truth box by `ignore_iou` or more:
      noobject x sigmoid(objectness)^2.
    `weights` holds coord, object, noobject, class and ignore_iou (Darknet's yolov2-voc: 1, 5, 1, 1,
    0.6)."""
    cells = yolov2_cells(output, len(anchors))
    boxes = yolov2_boxes(cells, anchors, stride)
    priors = torch.tensor(anchors, dtype=output.dtype)
    objectness = torch.sigmoid(cells[..., 4])
    coord_loss = output.new_zeros(())
    object_loss = output.new_zeros(())
    class_loss = output.new_zeros(())
    background = torch.ones_like(objectness, dtype=torch.bool)
    for image, target in enumerate(targets):
        truth = target["boxes"].to(output.dtype)
        if truth.numel() == 0:
            continue
        overlap = box_iou(boxes[image].reshape(-1, 4), truth).max(dim=1)[0].view(objectness[image].shape)
        background[image] &= overlap.detach() < weights["ignore_iou"]
        centre = box_convert(truth, "xyxy", "cxcywh") / stride  # in grid cells
        column = centre[:, 0].long().clamp(0, cells.size(2) - 1)
        row = centre[:, 1].long().clamp(0, cells.size(1) - 1)
        k = best_anchor(centre[:, 2], centre[:, 3], priors)
        background[image, row, column, k] = False
        predicted = cells[image, row, column, k]
        offsets = torch.stack((centre[:, 0] - column, centre[:, 1] - row,
                               torch.log(centre[:, 2] / priors[k, 0]), torch.log(centre[:, 3] / priors[k, 1])), 1)
        guess = torch.cat((torch.sigmoid(predicted[:, :2]), predicted[:, 2:4]), dim=1)
        coord_loss = coord_loss + ((guess - offsets) ** 2).sum()
        iou = box_iou(boxes[image, row, column, k], truth).diagonal().detach()
        object_loss = object_loss + ((objectness[image, row, column, k] - iou) ** 2).sum()
        one_hot = F.one_hot(target["labels"], predicted.size(1) - 5).to(output.dtype)
        class_loss = class_loss + ((torch.softmax(predicted[:, 5:], dim=1) - one_hot) ** 2).sum()
    batch = output.size(0)
    return {"coord": weights["coord"] * coord_loss / batch, "object": weights["object"] * object_loss / batch,
            "noobject": weights["noobject"] * (objectness[background] ** 2).sum() / batch,
            "class": weights["class"] * class_loss / batch}


def yolov1_cells(output: Tensor, grid: int, boxes: int) -> Tuple[Tensor, Tensor]:
    """The output vector (N, S x S x (5B + C)) as per-cell boxes (N, S, S, B, 5): x, y in the cell,
    sqrt(w), sqrt(h) of the image, confidence; and class probabilities (N, S, S, C)."""
    cells = output.view(output.size(0), grid, grid, -1)
    return cells[..., :5 * boxes].reshape(output.size(0), grid, grid, boxes, 5), cells[..., 5 * boxes:]


def yolov1_boxes(predicted: Tensor, image_size: float) -> Tensor:
    """The predicted boxes (N, S, S, B, 4), x1, y1, x2, y2 in pixels."""
    grid = predicted.size(1)
    cy, cx = torch.meshgrid(torch.arange(grid, dtype=predicted.dtype), torch.arange(grid, dtype=predicted.dtype),
                            indexing="ij")
    x = (predicted[..., 0] + cx[:, :, None]) / grid * image_size
    y = (predicted[..., 1] + cy[:, :, None]) / grid * image_size
    w = predicted[..., 2] ** 2 * image_size
    h = predicted[..., 3] ** 2 * image_size
    return torch.stack((x - w / 2, y - h / 2, x + w / 2, y + h / 2), dim=-1)


def yolov1_decode(output: Tensor, grid: int, boxes: int, image_size: float) -> Tuple[Tensor, Tensor]:
    """Boxes (N, S x S x B, 4) and class-specific confidences (N, S x S x B, C):
    Pr(class | object) x confidence, the cell's class probabilities times each box's confidence."""
    predicted, classes = yolov1_cells(output, grid, boxes)
    scores = classes[:, :, :, None, :] * predicted[..., 4:5]
    n = output.size(0)
    return yolov1_boxes(predicted, image_size).reshape(n, -1, 4), scores.reshape(n, -1, classes.size(-1))


def yolov1_loss(output: Tensor, targets: List[Dict[str, Tensor]], grid: int, boxes: int, image_size: float,
                weights: Dict[str, float]) -> Dict[str, Tensor]:
    """YOLOv1's sum-squared loss. A box belongs to the cell its centre falls in; of that cell's B
    predictors, the one whose box overlaps it most is responsible. Over responsible predictors:
      coord x [(x - x̂)^2 + (y - ŷ)^2 + (sqrt w - sqrt ŵ)^2 + (sqrt h - sqrt ĥ)^2]  (the network
      predicts sqrt w and sqrt h directly, so their error is plain), plus (confidence - IoU)^2;
    over every other predictor: noobject x confidence^2; over cells holding a box: the squared error
    of the class probabilities against the one-hot class. (A second box in a taken cell replaces the
    first.) `weights` holds coord and noobject (the paper's lambda_coord = 5 and lambda_noobj =
    0.5)."""
    predicted, classes = yolov1_cells(output, grid, boxes)
    boxes_px = yolov1_boxes(predicted, image_size)
    responsible = torch.zeros(predicted.shape[:4], dtype=torch.bool)
    wanted = torch.zeros_like(predicted)
    class_target = torch.zeros_like(classes)
    has_object = torch.zeros(classes.shape[:3], dtype=torch.bool)
    for image, target in enumerate(targets):
        for box, label in zip(target["boxes"].to(output.dtype), target["labels"]):
            centre = box_convert(box[None], "xyxy", "cxcywh")[0] / image_size * grid
            column = int(centre[0].clamp(0, grid - 1e-6))
            row = int(centre[1].clamp(0, grid - 1e-6))
            iou = box_iou(boxes_px[image, row, column], box[None])[:, 0].detach()
            best = int(iou.argmax())
            responsible[image, row, column] = False
            responsible[image, row, column, best] = True
            wanted[image, row, column, best] = torch.stack((centre[0] - column, centre[1] - row,
                                                            torch.sqrt(centre[2] / grid), torch.sqrt(centre[3] / grid),
                                                            iou[best]))
            class_target[image, row, column] = F.one_hot(label, classes.size(-1)).to(output.dtype)
            has_object[image, row, column] = True
    batch = output.size(0)
    error = (predicted - wanted) ** 2
    return {"coord": weights["coord"] * error[..., :4][responsible].sum() / batch,
            "object": error[..., 4][responsible].sum() / batch,
            "noobject": weights["noobject"] * (predicted[..., 4][~responsible] ** 2).sum() / batch,
            "class": ((classes - class_target) ** 2)[has_object].sum() / batch}
