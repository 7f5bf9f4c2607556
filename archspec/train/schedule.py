"""The learning rate of each epoch, as torchvision's classification reference schedules it
(references/classification/train.py): set once per epoch, after an optional linear warm-up.

    constant  the base rate throughout
    step      the base rate times 0.1 every 30 epochs (the reference's default, --lr-scheduler steplr)
    cosine    from the base rate down to 0 over the epochs after the warm-up (cosineannealinglr)

A warm-up of W epochs starts at 0.01 of the rate and climbs linearly to it at epoch W (the reference's
--lr-warmup-method linear, --lr-warmup-decay 0.01). The schedule is a function of the epoch alone and
is saved in every checkpoint, so a resumed run continues it exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

SCHEDULES = ("constant", "step", "cosine")
WARMUP_START = 0.01  # of the base rate, in the first warm-up epoch


@dataclass(frozen=True)
class Schedule:
    name: str = "step"
    lr: float = 0.01  # the base rate: the spec's lr_mult scales it per part
    epochs: int = 1  # the run's length, which a cosine spans
    warmup_epochs: int = 0
    step_size: int = 30  # epochs between two steps of `step`
    gamma: float = 0.1  # what each step multiplies the rate by

    def factor(self, epoch: int) -> float:
        """What the base rate is multiplied by in epoch `epoch` (counted from 0)."""
        if epoch < self.warmup_epochs:
            return WARMUP_START + (1 - WARMUP_START) * epoch / self.warmup_epochs
        after = epoch - self.warmup_epochs
        if self.name == "step":
            return self.gamma ** (after // self.step_size)
        if self.name == "cosine":
            span = max(self.epochs - self.warmup_epochs, 1)
            return 0.5 * (1 + math.cos(math.pi * min(after, span) / span))
        return 1.0

    def state(self) -> dict[str, Any]:
        return asdict(self)

    def same_as(self, other: "Schedule") -> bool:
        """Whether the two give every epoch the same rate (a run's length matters to a cosine alone)."""
        if self.name != "cosine" and other.name != "cosine":
            return self.state() | {"epochs": 0} == other.state() | {"epochs": 0}
        return self == other

    def describe(self) -> str:
        warmup = f", {self.warmup_epochs} warm-up epoch(s)" if self.warmup_epochs else ""
        shape = {"constant": "constant", "step": f"step (x{self.gamma:g} every {self.step_size} epochs)",
                 "cosine": f"cosine over {self.epochs} epochs"}[self.name]
        return f"{shape} from lr {self.lr:g}{warmup}"
