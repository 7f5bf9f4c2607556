"""What a training run is asked to do, and the error for what stops it before it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class TrainError(Exception):
    """A problem with the run's input (data folder, checkpoint, weights file), said in plain words."""


@dataclass
class TrainOptions:
    spec: Path
    data: str = "synthetic"
    epochs: int = 1
    batch_size: int = 16
    lr: float = 0.01
    optimizer: str = "sgd"  # sgd | adamw
    momentum: float = 0.9
    schedule: str = "step"  # constant | step | cosine (archspec.train.schedule)
    warmup_epochs: int = 0
    lr_step_size: int = 30  # epochs between the steps of `step`
    weight_decay: float = 1e-4
    amp: str = "off"  # off | bf16 | fp16
    channels_last: bool = False
    compile: bool = False
    resume: Path | None = None
    out: Path | None = None  # default: runs/<spec name>
    input_shape: tuple[int, ...] | None = None  # default: the spec's input
    nproc: int = 1
    sync_bn: bool = False
    accumulate: int = 1  # optimizer steps every `accumulate` batches
    seed: int = 0
    synthetic_size: int = 32  # training images of the synthetic set (a quarter as many for evaluation)
    max_steps: int | None = None  # stop each epoch after this many batches (quick checks)
    spec_path: tuple[Path, ...] = field(default_factory=tuple)
    allow_absolute: bool = False
    quiet: bool = False
