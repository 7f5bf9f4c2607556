"""maxunpool's output size is what F.max_unpool2d returns for the window of the max-pool it reads, padded or
not."""

from __future__ import annotations

import pytest

from archspec.ops import OPS

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 3, 1), (5, 2, 2), ((3, 5), (2, 1), (1, 2))])
def test_unpool_restores_the_size_pytorch_restores(kernel, stride, padding) -> None:
    values = F.max_pool2d(torch.rand(1, 2, 11, 12), kernel, stride, padding)
    # PyTorch's own size rule (an index 0 fits any output: a pool that left rows out gets a smaller one)
    expected = F.max_unpool2d(values, torch.zeros_like(values, dtype=torch.long), kernel, stride, padding).shape[1:]
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    attrs = {"kernel": pair(kernel), "stride": pair(stride), "padding": pair(padding)}
    pooled = tuple(values.shape[1:])
    assert OPS["maxunpool"].infer(attrs, [pooled, pooled]) == tuple(expected)
