"""Checkpoints: written atomically (a run interrupted at any moment leaves the last good one), and
holding everything an exact resume needs: weights, optimizer and scaler state, the random state and
the epoch. A checkpoint names the spec it was trained from, so resuming another spec's is refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from ..output import write_atomic
from .options import TrainError

FORMAT = 1


def save(path: Path, state: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"archspec_checkpoint": FORMAT, **state}, buffer)
    write_atomic(path, buffer.getvalue())


def load(path: Path, spec_name: str, spec_hash: str) -> dict[str, Any]:
    if not path.is_file():
        raise TrainError(f"the checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TrainError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(state, dict) or state.get("archspec_checkpoint") != FORMAT:
        raise TrainError(f"{path} is not a checkpoint of `archspec train`")
    if state["spec"] != spec_name:
        raise TrainError(f"{path} is a checkpoint of spec '{state['spec']}', not of '{spec_name}'; "
                         "resume it with that spec, or start this one from its weights with "
                         "`transfer: {pretrained: …}`")
    if state["spec_hash"] != spec_hash:
        raise TrainError(f"{path} was written for another version of spec '{spec_name}' (the spec changed "
                         "since); its weights may not fit")
    return state
