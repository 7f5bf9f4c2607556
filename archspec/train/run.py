"""A training run from start to end: everything that can fail is checked before the first step,
then one process trains, or several do (torchrun, or `--nproc`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..backends.pytorch import emit_pytorch
from ..compiler import compile_spec
from ..output import write_atomic
from ..passes.shapes import check_input
from . import distributed
from .data import datasets
from .options import TrainError, TrainOptions
from .schedule import SCHEDULES
from .tasks import Task, detection_task, task_for


@dataclass
class Job:
    """What every process of a run needs, checked and written down once (plain values: it is pickled
    into the processes that `--nproc` starts)."""

    options: TrainOptions
    name: str
    spec_hash: str
    model_file: Path
    out: Path
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    task: Task
    pretrained: Path | None
    bn_mode: str


def train(options: TrainOptions) -> dict[str, Any]:
    """Train the spec's emitted module; returns the last epoch's metrics, the paths written and the rank
    of this process (under torchrun every process returns; rank 0 alone reports).
    Raises SpecError (a broken spec) or TrainError (data, weights or checkpoint) before training."""
    job = prepare(options)
    world = distributed.from_torchrun()
    if world is None and options.nproc > 1:
        distributed.spawn(options.nproc, _worker, job)
        return _last_metrics(job)
    from .loop import run_epochs

    return run_epochs(world or distributed.World(), job)


def _worker(world: distributed.World, job: Job) -> None:
    from .loop import run_epochs

    run_epochs(world, job)


def prepare(options: TrainOptions) -> Job:
    _check_options(options)
    network = compile_spec(options.spec, options.spec_path, options.allow_absolute)
    input_shape = tuple(options.input_shape or network.input_shape)
    outputs = check_input(network, input_shape).outputs
    task: Task
    output_shape: tuple[int, ...]
    if network.detection is not None:
        task, output_shape = detection_task(network.detection), ()
    else:
        task = task_for(input_shape, outputs)
        known = outputs[0]
        assert known is not None, "task_for takes only a network with one output of a known shape"
        output_shape = tuple(known)
    datasets(options.data, task, input_shape, output_shape, options.synthetic_size, options.seed)  # checks
    transfer = network.transfer
    bn_mode = transfer.bn if transfer is not None else "train"
    if options.sync_bn and bn_mode == "frozen":
        raise TrainError("--sync-bn has nothing to synchronise: the spec's `transfer: {bn: frozen}` makes every "
                         "batch norm a FrozenBatchNorm2d, whose statistics are fixed; leave out --sync-bn")
    pretrained = Path(transfer.pretrained) if transfer is not None and transfer.pretrained else None
    if pretrained is not None and options.resume is None and not pretrained.is_file():
        raise TrainError(f"the spec starts from the weights file {pretrained} ('transfer: pretrained'), "
                         "which does not exist")
    out = Path(options.out or Path("runs") / network.name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise TrainError(f"cannot create the output folder {out}: {error.strerror}") from None
    model_file = out / f"{network.name}.py"
    write_atomic(model_file, emit_pytorch(network))  # the model trained is the file `build` writes
    return Job(options=options, name=network.name, spec_hash=network.spec_hash, model_file=model_file, out=out,
               input_shape=input_shape, output_shape=output_shape, task=task, pretrained=pretrained,
               bn_mode=bn_mode)


def _check_options(options: TrainOptions) -> None:
    problems = []
    for name in ("epochs", "batch_size", "nproc", "accumulate", "synthetic_size", "lr_step_size"):
        if getattr(options, name) < 1:
            problems.append(f"--{name.replace('_', '-')} must be at least 1")
    if options.warmup_epochs < 0:
        problems.append("--warmup-epochs must be at least 0")
    if options.schedule not in SCHEDULES:
        problems.append(f"--schedule is {', '.join(SCHEDULES)}, not {options.schedule!r}")
    if options.lr <= 0:
        problems.append("--lr must be positive")
    if options.optimizer not in ("sgd", "adamw"):
        problems.append(f"--optimizer is sgd or adamw, not {options.optimizer!r}")
    if options.amp not in ("off", "bf16", "fp16"):
        problems.append(f"--amp is bf16, fp16 or off, not {options.amp!r}")
    if options.resume is not None and not Path(options.resume).is_file():
        problems.append(f"the checkpoint {options.resume} does not exist")
    if problems:
        raise TrainError("; ".join(problems))


def _last_metrics(job: Job) -> dict[str, Any]:
    lines = (job.out / "metrics.jsonl").read_text().splitlines()
    return {**json.loads(lines[-1]), "out": str(job.out), "checkpoint": str(job.out / "last.pt"), "rank": 0}
