"""What a network is trained to do, read from its output shape: its loss, and its evaluation.

A vector of K values is a classifier (top-1 and top-5 accuracy); a map of K channels is a
segmentation (mean IoU over the classes); an output the shape of the input is a reconstruction
(mean squared error). A detector (a spec with a `detect` section) is trained on the losses of its
own emitted module and evaluated with mAP@0.5.
"""

from __future__ import annotations

from typing import Any, Sequence, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .options import TrainError


class Task:
    name = ""
    headline = ""  # the metric the progress line shows after each evaluation

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def train_loss(self, net: nn.Module, module: nn.Module, images: Tensor, targets: Any) -> Tensor:
        """The loss of one training batch: `net` is what trains (the module, or its DistributedDataParallel
        or compiled wrapper), `module` the emitted module itself."""
        return self.loss(net(images), targets)

    def predict(self, module: nn.Module, images: Tensor) -> Any:
        """The module's answer for evaluation, in eval mode."""
        return module(images).float()

    def new_tally(self) -> dict[str, Any]:
        raise NotImplementedError

    def count(self, tally: dict[str, Any], output: Tensor, target: Tensor) -> None:
        raise NotImplementedError

    def summary(self, tally: dict[str, Any]) -> dict[str, float]:
        raise NotImplementedError


class _Classes(Task):
    """A class per image or per pixel, learnt with cross-entropy."""

    def __init__(self, classes: int):
        self.classes = classes

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(output.float(), target)


class Classification(_Classes):
    name = "classification"
    headline = "top1"

    def new_tally(self) -> dict[str, Any]:
        return {"top1": 0, "top5": 0, "seen": 0, "loss": 0.0}

    def count(self, tally: dict[str, Any], output: Tensor, target: Tensor) -> None:
        best = output.topk(min(5, self.classes), dim=1).indices
        hits = best == target[:, None]
        tally["top1"] += int(hits[:, 0].sum())
        tally["top5"] += int(hits.any(dim=1).sum())
        tally["seen"] += len(target)
        tally["loss"] += float(self.loss(output, target)) * len(target)

    def summary(self, tally: dict[str, Any]) -> dict[str, float]:
        seen = max(tally["seen"], 1)
        return {"val_loss": tally["loss"] / seen, "top1": tally["top1"] / seen, "top5": tally["top5"] / seen}


class Segmentation(_Classes):
    name = "segmentation"
    headline = "miou"

    def new_tally(self) -> dict[str, Any]:
        return {"confusion": torch.zeros(self.classes, self.classes, dtype=torch.long), "loss": 0.0, "seen": 0}

    def count(self, tally: dict[str, Any], output: Tensor, target: Tensor) -> None:
        predicted = output.argmax(dim=1).flatten().cpu()
        truth = target.flatten().cpu()
        tally["confusion"] += torch.bincount(truth * self.classes + predicted,
                                             minlength=self.classes ** 2).view(self.classes, self.classes)
        tally["loss"] += float(self.loss(output, target)) * len(target)
        tally["seen"] += len(target)

    def summary(self, tally: dict[str, Any]) -> dict[str, float]:
        confusion = tally["confusion"].double()
        union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
        present = union > 0  # classes neither predicted nor present do not count
        iou = confusion.diag()[present] / union[present]
        return {"val_loss": tally["loss"] / max(tally["seen"], 1), "miou": float(iou.mean()) if len(iou) else 0.0}


class Reconstruction(Task):
    name = "reconstruction"
    headline = "mse"

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(output.float(), target)

    def new_tally(self) -> dict[str, Any]:
        return {"squared": 0.0, "seen": 0}

    def count(self, tally: dict[str, Any], output: Tensor, target: Tensor) -> None:
        tally["squared"] += float(F.mse_loss(output.float(), target, reduction="sum"))
        tally["seen"] += target.numel()

    def summary(self, tally: dict[str, Any]) -> dict[str, float]:
        mse = tally["squared"] / max(tally["seen"], 1)
        return {"val_loss": mse, "mse": mse}


class Detection(Task):
    """A detector's own losses (its emitted `loss`, or its forward in training, as torchvision's detectors
    answer), and mAP@0.5 over the evaluation set (archspec.detection.evaluate, PASCAL VOC's all-point AP)."""

    name = "detection"
    headline = "map50"
    TAKES_TENSORS = ("yolov1", "yolov2")  # the others take a list of images, as torchvision's detectors

    def __init__(self, kind: str, classes: int):
        self.kind = kind
        self.takes_lists = kind not in self.TAKES_TENSORS
        # YOLO's labels are 0 … C - 1; torchvision's (SSD, Faster R-CNN) 1 … C - 1, 0 being the background.
        self.first_label = 1 if self.takes_lists else 0
        self.labels = classes - self.first_label  # the object classes the targets may use

    # `module` is the emitted detector class, whose `loss` and `postprocess` nn.Module does not declare.
    def train_loss(self, net: nn.Module, module: Any, images: Tensor, targets: Any) -> Tensor:
        losses = net(list(images), targets) if self.takes_lists else module.loss(net(images), targets)
        return sum(losses.values())

    def predict(self, module: Any, images: Tensor) -> Any:
        detections = module(list(images)) if self.takes_lists else module.postprocess(module(images))
        return [{key: value.detach().float().cpu() if key != "labels" else value.cpu() for key, value in d.items()}
                for d in detections]

    def new_tally(self) -> dict[str, Any]:
        return {"predictions": [], "targets": []}

    def count(self, tally: dict[str, Any], output: Any, target: Any) -> None:
        tally["predictions"] += output
        tally["targets"] += [{key: value.cpu() for key, value in t.items()} for t in target]

    def summary(self, tally: dict[str, Any]) -> dict[str, float]:
        from ..detection.evaluate import mean_average_precision

        found = mean_average_precision(tally["predictions"], tally["targets"], 0.5)
        return {"map50": float(cast(float, found["map"]))}


def detection_task(detection: Any) -> Detection:
    """The task of a spec with a `detect` section (archspec.detection.spec.Detection)."""
    if detection.kind == "rpn":
        raise TrainError("a region proposal network alone has no detection loss in its emitted module; "
                         "train the two-stage detector built on it (a `detect: {kind: faster_rcnn}` spec, "
                         "e.g. specs/resnet/fasterrcnn_resnet50_fpn.yaml)")
    task = Detection(detection.kind, detection.classes)
    if task.labels < 1:
        raise TrainError(f"the detector has {detection.classes} class(es), the background included: it has "
                         "no object class to learn")
    return task


def task_for(input_shape: tuple[int, ...], outputs: Sequence[tuple[int, ...] | None]) -> Task:
    """The task of a network with these output shapes (from the shape pass, at the training input)."""
    if len(outputs) != 1 or outputs[0] is None:
        raise TrainError(f"the network has {len(outputs)} outputs and no `detect` section; `archspec train` "
                         "trains classifiers, segmentation and reconstruction networks (one output), and "
                         "detectors (a `detect` section: yolov1, yolov2, ssd, faster_rcnn)")
    shape = tuple(outputs[0])
    if shape == tuple(input_shape):
        return Reconstruction()
    if len(shape) == 1:
        return Classification(shape[0])
    if len(shape) == 3 and shape[0] > 1:
        return Segmentation(shape[0])
    raise TrainError(f"no training task for an output of shape {list(shape)}: a classifier outputs a vector, "
                     "a segmentation network a map of at least two class channels")
