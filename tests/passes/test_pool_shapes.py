"""The pooling shape rule is PyTorch's, ceil_mode included: compared with PyTorch over a grid of input
sizes and pool settings, and the input sizes `archspec sizes` gives a GoogLeNet-style stem."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.ops import OPS, ShapeError
from archspec.passes.shapes import accepted_sizes

torch = pytest.importorskip("torch")


def ours(op: str, size: int, attrs: dict) -> int | None:
    try:
        return OPS[op].infer(attrs, [(1, size, size)])[1]
    except ShapeError:
        return None


def pytorch(module, size: int) -> int | None:
    try:
        return module(torch.zeros(1, 1, size, size)).shape[-1]
    except RuntimeError:  # "Output size is too small"
        return None


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_and_average_pools_agree_with_pytorch(ceil_mode: bool) -> None:
    checked = 0
    for kernel, stride, dilation in itertools.product((1, 2, 3, 4), (1, 2, 3), (1, 2)):
        for padding in range(kernel // 2 + 1):
            maxpool = torch.nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
            attrs = {"kernel": (kernel,) * 2, "stride": (stride,) * 2, "padding": (padding,) * 2,
                     "dilation": (dilation,) * 2, "ceil_mode": ceil_mode}
            avgpool = torch.nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode) if dilation == 1 else None
            for size in range(1, 11):
                assert ours("maxpool", size, attrs) == pytorch(maxpool, size), (size, maxpool)
                if avgpool is not None:
                    assert ours("avgpool", size, {**attrs, "dilation": (1, 1)}) == pytorch(avgpool, size), (
                        size, avgpool)
                checked += 1
    assert checked == 480  # every setting was compared


def test_sizes_of_a_googlenet_stem_are_those_pytorch_takes(tmp_path: Path) -> None:
    """GoogLeNet's stem pools with ceil_mode: a 3x3/2 pool on a 2x2 map gives 1x1, so small inputs work."""
    path = tmp_path / "stem.yaml"
    path.write_text("""archspec: 1
name: stem
input: [3, 224, 224]
defaults:
  maxpool: {kernel: 3, stride: 2, ceil_mode: true}
body:
  - conv: {name: conv1, out: 4, kernel: 7, stride: 2, padding: 3}
  - maxpool: {name: pool1}
  - conv: {name: conv2, out: 4, kernel: 3, padding: 1}
  - maxpool: {name: pool2}
  - maxpool: {name: pool3}
  - maxpool: {name: pool4}
""")
    network = compile_spec(path)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 7, 2, 3), torch.nn.MaxPool2d(3, 2, ceil_mode=True),
                                torch.nn.Conv2d(4, 4, 3, padding=1),
                                *[torch.nn.MaxPool2d(3, 2, ceil_mode=True) for _ in range(3)])
    runs = []
    for size in range(1, 64):
        try:
            model(torch.zeros(1, 3, size, size))
            runs.append(size)
        except RuntimeError:
            pass
    assert accepted_sizes(network, 1, 63) == runs and runs[0] == 31  # the old rule said 47
