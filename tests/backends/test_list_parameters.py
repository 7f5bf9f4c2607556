"""A block's list parameter used where a pair is wanted (`kernel: k`, or a conditional between it and a
list literal) is passed to the layer as the list: the emitted class once wrote `kernel_size=int(k)`,
which fails when the class is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import import_file

torch = pytest.importorskip("torch")

SPEC = """archspec: 1
name: net
input: [3, 8, 8]
blocks:
  b:
    class: Block
    params: {k: [3, 3], big: false}
    body:
      - conv: {name: conv1, out: 4, kernel: k, padding: 1}
      - conv: {name: conv2, out: 4, kernel: "[5, 5] if big else k", padding: "[2, 2] if big else [1, 1]"}
body:
  - b: {name: b1, k: [3, 3]}
  - b: {name: b2, k: [3, 3], big: true}
"""


def test_a_list_parameter_as_a_kernel_is_passed_as_the_list(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    source = emit_pytorch(compile_spec(path))
    assert "kernel_size=k," in source and "kernel_size=[5, 5] if big else k," in source, source
    target = tmp_path / "net_emitted.py"
    target.write_text(source)
    module = import_file(target, "net_emitted")
    model = module.net()
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, 4, 8, 8)
    assert model.b2.conv2.kernel_size == (5, 5) and model.b1.conv2.kernel_size == (3, 3)
    # the class is built for other arguments than the spec's too, as nn.Conv2d is
    block = module.Block(3, k=[1, 3])
    reference = torch.nn.Sequential(torch.nn.Conv2d(3, 4, kernel_size=[1, 3], padding=1),
                                    torch.nn.Conv2d(4, 4, kernel_size=[1, 3], padding=[1, 1]))
    assert [block.conv1.weight.shape, block.conv2.weight.shape] == [reference[0].weight.shape,
                                                                     reference[1].weight.shape]
    x = torch.randn(1, 3, 8, 8)
    assert block(x).shape == reference(x).shape == (1, 4, 12, 8)
