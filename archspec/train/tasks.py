"""What a network is trained to do, read from its output shape: its loss, and its evaluation.

A vector of K values is a classifier (top-1 and top-5 accuracy); a map of K channels is a
segmentation (mean IoU over the classes); an output the shape of the input is a reconstruction
(mean squared error). A detector's outputs are several maps; its losses and mAP@0.5 come with the
detection heads, and plug in as another `Task` here.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .options import TrainError


class Task:
    name = ""
    headline = ""  # the metric the progress line shows after each evaluation

    def loss(self, output: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

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


def task_for(input_shape: tuple[int, ...], outputs: Sequence[tuple[int, ...] | None]) -> Task:
    """The task of a network with these output shapes (from the shape pass, at the training input)."""
    if len(outputs) != 1 or outputs[0] is None:
        raise TrainError(f"the network has {len(outputs)} outputs; `archspec train` trains classifiers, "
                         "segmentation and reconstruction networks (one output). Detectors need their losses "
                         "and mAP@0.5 evaluation, which plug in as a Task in archspec/train/tasks.py")
    shape = tuple(outputs[0])
    if shape == tuple(input_shape):
        return Reconstruction()
    if len(shape) == 1:
        return Classification(shape[0])
    if len(shape) == 3 and shape[0] > 1:
        return Segmentation(shape[0])
    raise TrainError(f"no training task for an output of shape {list(shape)}: a classifier outputs a vector, "
                     "a segmentation network a map of at least two class channels")
