"""Shared helpers for the tests: the repository root, shipped specs, importing emitted code, time limits."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest


def _share_the_cores() -> None:
    """Under `pytest -n N`, each worker's PyTorch would start a thread per core, N times too many: the
    workers then wait on one another. Give each its share, before torch is imported (children inherit it)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


_share_the_cores()

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"

# Setting ARCHSPEC_ACCEPT=1 makes golden tests write what the code produces now instead of comparing.
ACCEPT = os.environ.get("ARCHSPEC_ACCEPT") == "1"


def shipped_specs() -> dict[str, Path]:
    """Every shipped network spec by model name (the file's stem); block libraries (files with `blocks` and
    neither a `body` nor `extends`, such as the FPN's) define no network of their own."""
    import yaml

    found = {}
    for path in sorted(SPECS.rglob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        if "body" in document or "extends" in document:
            found[path.stem] = path
    return found


def import_file(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the repository root, so diagnostics show paths like specs/resnet/resnet50.yaml."""
    monkeypatch.chdir(ROOT)
    return ROOT


def check_golden(path: Path, got: str, what: str) -> None:
    """Compare `got` with the golden file at `path` (or write it under ARCHSPEC_ACCEPT=1), naming the first
    line that differs so that a failure says which layer and which number changed."""
    if ACCEPT:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        return
    assert path.exists(), f"no golden {path.relative_to(ROOT)}; run with ARCHSPEC_ACCEPT=1 and review it"
    expected = path.read_text(encoding="utf-8")
    if got == expected:
        return
    pairs = list(zip(expected.splitlines(), got.splitlines()))
    line, (old, new) = next(((n, p) for n, p in enumerate(pairs, 1) if p[0] != p[1]),
                            (len(pairs) + 1, ("(end)", "(end)")))
    raise AssertionError(f"{what} changed ({path.relative_to(ROOT)}:{line}):\n  golden: {old}\n  now:    {new}")


@contextmanager
def time_limit(seconds: float, error: type[Exception] = TimeoutError) -> Iterator[None]:
    """Raise `error` inside the block once it has run `seconds`, so that a hang fails its test instead of
    stopping the suite (SIGALRM: the main thread of a POSIX process)."""
    def expire(signum: int, frame: Any) -> None:
        raise error(f"ran for more than {seconds} s (a hang?)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def two_stage_layer_outputs(network, model, shape: tuple[int, ...], regions: int = 1) -> list:
    """A two-stage detector's layers, run as its forward would but without proposals: the backbone and the
    RPN head on one image of `shape`, the box head on `regions` crops of RoI Align's output shape. Returns
    the network's outputs in order (the RPN maps, then the box head's predictions). Works on meta tensors."""
    import torch

    parts = network.two_stage
    device = next(model.parameters()).device
    features = getattr(model, parts.backbone)(torch.zeros(1, *shape, device=device))
    levels = [features[ref.split(".", 1)[1]] if isinstance(features, dict) else features for ref in parts.rpn_levels]
    rpn = getattr(model, parts.rpn_head)(*levels)
    crop = network.root.node(parts.roi_align).shape
    heads = getattr(model, parts.box_head)(torch.zeros(regions, *crop, device=device))
    values = {f"{parts.rpn_head}.{key}": value for key, value in rpn.items()}
    values.update({f"{parts.box_head}.{key}": value for key, value in heads.items()})
    return [values[output] for output in network.root.outputs]
