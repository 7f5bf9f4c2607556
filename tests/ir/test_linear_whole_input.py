"""A linear layer sees its whole input, except channels-last on a map, where each output pixel reads only
the channels of its own pixel (nn.Linear on the last axis, checked by gradients here)."""

from __future__ import annotations

import pytest

from archspec.ops import OPS

torch = pytest.importorskip("torch")


def pixels_read(channels_last: bool) -> int:
    """How many input units reach the first output unit of an nn.Linear on a (H, W, C) map or its flattening."""
    torch.manual_seed(0)
    x = torch.rand(3, 4, 5, requires_grad=True)
    layer = torch.nn.Linear(5 if channels_last else 60, 2)
    out = layer(x) if channels_last else layer(x.flatten())
    out.flatten()[0].backward()
    return int((x.grad != 0).sum())


@pytest.mark.parametrize("channels_last", [False, True])
def test_linear_sees_the_whole_input_unless_channels_last(channels_last: bool) -> None:
    whole = pixels_read(channels_last) == 3 * 4 * 5
    assert OPS["linear"].sees_whole_input({"channels_last": channels_last}) == whole
