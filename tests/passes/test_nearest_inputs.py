"""nearest_accepted: the nearest input sizes strictly below and above the one given (height and width moved
alike) that the network takes, found here by brute force over accepts(); never a size below 1x1."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.shapes import accepts, nearest_accepted


def network(tmp_path: Path, body: str):
    path = tmp_path / "net.yaml"
    path.write_text(f"input: [3, 12, 12]\nbody:\n{body}")
    return compile_spec(path)


def brute_force(net, shape, reach: int = 256):
    c, h, w = shape
    below = [(c, h - s, w - s) for s in range(1, reach + 1) if min(h - s, w - s) >= 1 and accepts(net, (c, h - s, w - s))]
    above = [(c, h + s, w + s) for s in range(1, reach + 1) if accepts(net, (c, h + s, w + s))]
    return (below[0] if below else None), (above[0] if above else None)


@pytest.mark.parametrize("shape", [(3, 2, 2), (3, 2, 5), (3, 8, 8), (3, 1, 4)])
def test_any_size_network_offers_its_neighbours(tmp_path: Path, shape) -> None:
    net = network(tmp_path, "  - relu\n")
    assert nearest_accepted(net, shape) == brute_force(net, shape)
    assert nearest_accepted(net, (3, 2, 2)) == ((3, 1, 1), (3, 3, 3))


@pytest.mark.parametrize("size", [10, 11, 12, 13])
def test_pooled_network_offers_the_nearest_sizes_it_takes(tmp_path: Path, size: int) -> None:
    net = network(tmp_path, "  - maxpool: {kernel: 4}\n")
    assert nearest_accepted(net, (3, size, size), reach=16) == brute_force(net, (3, size, size), reach=16)
