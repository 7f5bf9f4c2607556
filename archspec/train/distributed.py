"""Many processes through PyTorch's own engine: torchrun's environment, or `--nproc N` processes
started here (torch.multiprocessing), joined in one process group (NCCL on GPUs, gloo on CPUs)."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 alone prints and writes."""
        return self.rank == 0


def from_torchrun() -> World | None:
    """The world torchrun describes in the environment, or None when not started by it."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    return World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0)))


def join(world: World) -> None:
    if world.size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, rank=world.rank, world_size=world.size)


def leave(world: World) -> None:
    if world.size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def spawn(nproc: int, target: Callable[..., Any], *args: Any, start_method: str = "spawn") -> None:
    """Run `target(world, *args)` in `nproc` processes on this machine, as torchrun would. Fresh
    interpreters ("spawn") by default, as CUDA needs; "fork" starts in a fraction of the time on CPUs."""
    import torch.multiprocessing as mp

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(_free_port())  # a port of this run's own, even after an earlier one
    mp.start_processes(_entry, args=(nproc, target, args), nprocs=nproc, join=True, start_method=start_method)


def _entry(rank: int, nproc: int, target: Callable[..., Any], args: tuple) -> None:
    target(World(rank, nproc, rank), *args)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
