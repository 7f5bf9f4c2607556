"""The epochs of one process: build the emitted module, train with a progress line and the epoch's
learning rate, evaluate, write metrics, curves and a checkpoint after every epoch. Rank 0 alone prints
and writes."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from ..output import write_atomic
from . import checkpoint
from .curves import plot
from .data import collate_for, datasets, skipped
from .distributed import World, join, leave
from .options import TrainError
from .run import Job
from .schedule import Schedule


def run_epochs(world: World, job: Job) -> dict[str, Any]:
    join(world)
    try:
        return Trainer(world, job).run()
    finally:
        leave(world)


def load_factory(job: Job) -> Callable[[], nn.Module]:
    """The factory function of the emitted file (named after the spec)."""
    spec = importlib.util.spec_from_file_location(f"archspec_trained_{job.name}", job.model_file)
    if spec is None or spec.loader is None:
        raise TrainError(f"{job.model_file} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, job.name)


def emitted_method(module: nn.Module, name: str) -> Callable[..., Any] | None:
    """A method that the emitted class has when its spec asks for it (`load_pretrained` with a `transfer`
    section, `param_groups`): found by name, as the class is only known once its file is loaded."""
    method = getattr(module, name, None)
    return method if callable(method) else None


def compiled(net: nn.Module) -> nn.Module:
    """torch.compile of a module is a module (an OptimizedModule), though its signature says only callable."""
    result = torch.compile(net)
    assert isinstance(result, nn.Module), "torch.compile wraps a module in a module"
    return result


class Trainer:
    def __init__(self, world: World, job: Job):
        self.world, self.job, self.options = world, job, job.options
        options = self.options
        self.device = torch.device(f"cuda:{world.local_rank}" if torch.cuda.is_available() else "cpu")
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(options.seed)
        model = load_factory(job)()
        if job.pretrained is not None and options.resume is None:
            self.start_from(model)
        if options.sync_bn and self.synchronises_batch_norm(model):
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
        # Module.to moves in place and returns the module; its stubs take the two settings one at a time.
        self.module = model.to(self.device).to(memory_format=self.memory_format)
        self.optimizer = self.make_optimizer()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=options.amp == "fp16")
        self.schedule = Schedule(options.schedule, options.lr, options.epochs, options.warmup_epochs,
                                 options.lr_step_size)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        if options.resume is not None:
            self.resume(options.resume)
        net: nn.Module = self.module
        if world.size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
        self.net = compiled(net) if options.compile else net
        train_set, self.val_set = datasets(options.data, job.task, job.input_shape, job.output_shape,
                                           options.synthetic_size, options.seed)
        self.train_set = train_set
        # The same sampler with one process or many: each epoch's order depends only on (seed, epoch).
        self.sampler: DistributedSampler[int] = DistributedSampler(train_set, num_replicas=world.size,
                                                                   rank=world.rank, shuffle=True, seed=options.seed)
        self.collate = collate_for(job.task)
        self.loader = DataLoader(train_set, batch_size=options.batch_size, sampler=self.sampler,
                                 collate_fn=self.collate)

    # ------------------------------------------------------------ set-up

    def say(self, text: str) -> None:
        if self.world.main and not self.options.quiet:
            sys.stderr.write(text + "\n")

    def warn(self, text: str) -> None:
        """A line on rank 0 even when quiet: something asked for is not done."""
        if self.world.main:
            sys.stderr.write(f"warning: {text}\n")

    def synchronises_batch_norm(self, model: nn.Module) -> bool:
        """Whether --sync-bn has anything to do; says why not when it has not (`bn: frozen` is refused
        before training, in `run.prepare`)."""
        if self.job.bn_mode == "eval":
            self.warn("--sync-bn skipped: the spec's `transfer: {bn: eval}` keeps batch norm in eval mode, "
                      "so its statistics are not computed from the batches")
        elif not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            self.warn("--sync-bn skipped: the network has no batch norm")
        elif self.world.size == 1:
            self.warn("--sync-bn skipped: one process has nothing to synchronise with (--nproc N or torchrun "
                      "start several)")
        elif self.device.type != "cuda":
            self.warn("--sync-bn skipped: PyTorch's SyncBatchNorm runs on GPUs only; on CPUs each process keeps "
                      "its own batch norm statistics")
        else:
            return True
        return False

    def start_from(self, model: nn.Module) -> None:
        load_pretrained = emitted_method(model, "load_pretrained")
        if load_pretrained is None:
            raise TrainError("the emitted module has no load_pretrained (the spec has no 'transfer' section)")
        try:
            loaded, skipped_names = load_pretrained(str(self.job.pretrained))
        except ValueError as error:
            raise TrainError(f"the weights in {self.job.pretrained} do not fit the network: {error}") from None
        replaced = f"; skipped (replaced): {', '.join(skipped_names)}" if skipped_names else ""
        self.say(f"loaded {len(loaded)} tensors from {self.job.pretrained}{replaced}")

    def make_optimizer(self) -> torch.optim.Optimizer:
        options = self.options
        param_groups = emitted_method(self.module, "param_groups")
        if param_groups is not None:
            groups = param_groups(options.lr)  # the spec's lr multipliers, frozen parts left out
        else:
            groups = [{"params": [p for p in self.module.parameters() if p.requires_grad], "lr": options.lr}]
        for group in groups:
            group["initial_lr"] = group["lr"]  # the schedule's factor multiplies it, epoch by epoch
        if options.optimizer == "adamw":
            return torch.optim.AdamW(groups, lr=options.lr, weight_decay=options.weight_decay)
        return torch.optim.SGD(groups, lr=options.lr, momentum=options.momentum, weight_decay=options.weight_decay)

    def resume(self, path: Path) -> None:
        state = checkpoint.load(path, self.job.name, self.job.spec_hash)
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # a checkpoint from before schedules
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"])
        self.epoch, self.history = state["epoch"], list(state["history"])
        self.say(f"resumed {self.options.resume} after epoch {self.epoch}")
        if "schedule" in state:  # the schedule the run started with goes on, whatever this command line says
            saved = Schedule(**state["schedule"])
            if not saved.same_as(self.schedule):
                self.warn(f"the learning rate follows the checkpoint's schedule, {saved.describe()}, not this "
                          f"command line's ({self.schedule.describe()})")
            self.schedule = saved

    # ------------------------------------------------------------ epochs

    def run(self) -> dict[str, Any]:
        last: dict[str, Any] = self.history[-1] if self.history else {}
        while self.epoch < self.options.epochs:
            row = {"epoch": self.epoch + 1, **self.train_epoch()}
            row.update(self.evaluate())
            row["skipped_images"] = skipped(self.train_set) + skipped(self.val_set)
            self.epoch += 1
            self.history.append(row)
            self.write(row)
            last = row
        return {**last, "out": str(self.job.out), "checkpoint": str(self.job.out / "last.pt"),
                "rank": self.world.rank}

    def autocast(self):
        if self.options.amp == "off":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.options.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def batch(self, batch: tuple[torch.Tensor, Any]) -> tuple[torch.Tensor, Any]:
        images, targets = batch
        return images.to(self.device, memory_format=self.memory_format), _to_device(targets, self.device)

    def set_learning_rate(self) -> float:
        """The epoch's rate in every optimizer group (each keeps its lr_mult); returns the base rate's."""
        factor = self.schedule.factor(self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return self.schedule.lr * factor

    def train_epoch(self) -> dict[str, Any]:
        options, task = self.options, self.job.task
        self.net.train()
        self.sampler.set_epoch(self.epoch)
        lr = self.set_learning_rate()
        steps = len(self.loader) if options.max_steps is None else min(len(self.loader), options.max_steps)
        progress = _Progress(self, steps)
        total, images_seen = torch.zeros(2, dtype=torch.float64), 0
        for step, batch in enumerate(self.loader):
            if step >= steps:
                break
            if batch is None:
                continue
            images, targets = self.batch(batch)
            update = (step + 1) % options.accumulate == 0 or step + 1 == steps
            no_sync = getattr(self.net, "no_sync", None)
            quiet = no_sync() if self.world.size > 1 and not update and no_sync else contextlib.nullcontext()
            with quiet:
                with self.autocast():
                    loss = task.train_loss(self.net, self.module, images, targets)
                self.scaler.scale(loss / options.accumulate).backward()
            if update:
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.optimizer.zero_grad(set_to_none=True)
            total += torch.tensor([loss.item() * len(images), len(images)], dtype=torch.float64)
            images_seen += len(images) * self.world.size
            progress.show(step + 1, total[0].item() / total[1].item(), images_seen)
        progress.finish()
        if self.world.size > 1:
            dist.all_reduce(total)  # the loss over every process's images, not rank 0's alone
        return {"train_loss": float(total[0] / total[1].clamp(min=1)), "images_per_s": progress.rate(images_seen),
                "lr": lr}

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Rank 0 evaluates the whole evaluation set on the module itself; the others wait for it."""
        result: dict[str, float] = {}
        if self.world.main:
            task, tally = self.job.task, self.job.task.new_tally()
            self.module.eval()
            loader = DataLoader(self.val_set, batch_size=self.options.batch_size, collate_fn=self.collate)
            for batch in loader:
                if batch is not None:
                    images, targets = self.batch(batch)
                    with self.autocast():
                        outputs = task.predict(self.module, images)
                    task.count(tally, outputs, targets)
            result = task.summary(tally)
        if self.world.size > 1:
            dist.barrier()
        return result

    def write(self, row: dict[str, Any]) -> None:
        if not self.world.main:
            return
        out = self.job.out
        checkpoint.save(out / "last.pt", {
            "spec": self.job.name, "spec_hash": self.job.spec_hash, "epoch": self.epoch,
            "model": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": torch.get_rng_state(), "history": self.history,
            "schedule": self.schedule.state()})
        write_atomic(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))
        drawn = plot(self.history, out / "curves.png")
        headline = self.job.task.headline
        shown = f"  {headline} {row[headline]:.4f}" if headline in row else ""
        validation = f"  val loss {row['val_loss']:.4f}" if "val_loss" in row else ""  # a detector's has none
        self.say(f"epoch {row['epoch']}/{self.options.epochs}: train loss {row['train_loss']:.4f}"
                 f"{validation}{shown}  ({row['images_per_s']:.1f} images/s)"
                 f"{'' if drawn else '  (no curves.png: needs Pillow)'}")


class _Progress:
    """One line that rewrites itself on a terminal (loss, images/s, ETA); every tenth of the epoch elsewhere."""

    def __init__(self, trainer: Trainer, steps: int):
        self.trainer, self.steps = trainer, steps
        self.start = time.perf_counter()
        self.terminal = sys.stderr.isatty()
        self.shown = 0

    def rate(self, images: int) -> float:
        return images / max(time.perf_counter() - self.start, 1e-9)

    def show(self, step: int, loss: float, images: int) -> None:
        trainer = self.trainer
        if not trainer.world.main or trainer.options.quiet:
            return
        if not self.terminal and step < self.steps and step < self.shown + max(self.steps // 10, 1):
            return
        self.shown = step
        elapsed = time.perf_counter() - self.start
        eta = elapsed / step * (self.steps - step)
        line = (f"epoch {trainer.epoch + 1}/{trainer.options.epochs} [{step:>{len(str(self.steps))}}/{self.steps}]"
                f"  loss {loss:.4f}  {self.rate(images):.1f} images/s  ETA {_clock(eta)}")
        sys.stderr.write(("\r" + line) if self.terminal else line + "\n")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.terminal and self.trainer.world.main and not self.trainer.options.quiet:
            sys.stderr.write("\n")


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _to_device(value: Any, device: torch.device) -> Any:
    """A tensor, or a detector's targets (a list of {boxes, labels}), on `device`."""
    if isinstance(value, list):
        return [_to_device(item, device) for item in value]
    if isinstance(value, dict):
        return {key: _to_device(item, device) for key, item in value.items()}
    return value.to(device)
