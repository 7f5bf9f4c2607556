"""Which input units an op's output unit reads, found by brute force with the PyTorch module itself: the
pools' windows (a max-pool's dilation among them) against their receptive-field rules, and a linear layer's
reach (a vector's every feature, or channels-last one pixel's channels) against `sees_whole_input`."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.ops import OPS

torch = pytest.importorskip("torch")
nn = torch.nn


def read_by(pool: Any, size: int, axis: int) -> list[set[int]]:
    """For each output unit along `axis` (0: rows, 1: columns), the input units whose change reaches it: a
    line of ones among zeros shows in exactly the windows that hold it (padding is -inf, or zeros left out
    of an average that counts only real units)."""
    shape = (1, 1, size, size)
    outputs: dict[int, set[int]] = {}
    for unit in range(size):
        x = torch.zeros(shape)
        if axis == 0:
            x[0, 0, unit, :] = 1
        else:
            x[0, 0, :, unit] = 1
        y = pool(x)[0, 0]
        line = y[:, 0] if axis == 0 else y[0, :]
        for o, value in enumerate(line.tolist()):
            outputs.setdefault(o, set())
            if value != 0:
                outputs[o].add(unit)
    return [outputs[o] for o in sorted(outputs)]


POOLS = [
    ("maxpool", {"kernel": (3, 2), "stride": (2, 1), "padding": (1, 0), "dilation": (2, 1), "ceil_mode": False},
     lambda: nn.MaxPool2d((3, 2), (2, 1), (1, 0), dilation=(2, 1))),
    ("maxpool", {"kernel": (2, 3), "stride": (1, 2), "padding": (0, 1), "dilation": (3, 2), "ceil_mode": False},
     lambda: nn.MaxPool2d((2, 3), (1, 2), (0, 1), dilation=(3, 2))),
    ("avgpool", {"kernel": (3, 2), "stride": (2, 2), "padding": (1, 1), "ceil_mode": False,
                 "count_include_pad": False}, lambda: nn.AvgPool2d((3, 2), 2, 1, count_include_pad=False)),
]


@pytest.mark.parametrize("op, attrs, module", POOLS, ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(POOLS)])
@pytest.mark.parametrize("axis", [0, 1])
def test_a_pools_rule_reads_the_units_its_pytorch_window_reads(op: str, attrs: dict[str, Any], module: Any,
                                                               axis: int) -> None:
    size = 11
    rule = OPS[op].rf(attrs, [(1, size, size)])[axis]
    found = read_by(module(), size, axis)
    assert rule.ratio == attrs["stride"][axis]
    assert [set(rule.units(o)) & set(range(size)) for o in range(len(found))] == found


@pytest.mark.parametrize("channels_last", [False, True])
def test_a_linear_layer_sees_the_whole_input_only_on_a_vector(channels_last: bool) -> None:
    """nn.Linear mixes the last axis: of a vector, every feature (the whole flattened map); of a channels-last
    map, the channels of one pixel, so its output is still a map whose units keep their fields."""
    torch.manual_seed(0)
    linear = nn.Linear(4, 3)
    x = torch.rand((1, 5, 6, 4) if channels_last else (1, 4), requires_grad=True)
    output = linear(x)
    (output[0, 2, 3] if channels_last else output[0]).sum().backward()
    reached = x.grad[0].abs().sum(-1) != 0 if channels_last else x.grad[0] != 0
    whole = bool(reached.all())
    if channels_last:
        assert reached.nonzero().tolist() == [[2, 3]]  # one pixel, the one the output unit sits at
    assert whole is not channels_last
    attrs = {"out": 3, "in": 4, "bias": True, "channels_last": channels_last}
    assert OPS["linear"].sees_whole_input(attrs) is whole
