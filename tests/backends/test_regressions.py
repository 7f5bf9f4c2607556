"""Emitted code for constructs that once built and then failed at run time, or failed with a wrong message."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..conftest import import_file

torch = pytest.importorskip("torch")


def build(tmp_path: Path, text: str):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    network = compile_spec(path)
    target = tmp_path / "net_emitted.py"
    target.write_text(emit_pytorch(network))
    return network, import_file(target, "net_emitted")


def test_a_moduleless_member_of_a_module_list_keeps_its_place(tmp_path: Path) -> None:
    """Ultralytics' layout: `model.1` is a concat between two convs. The list indexes by position, so the
    concat holds its place with an nn.Identity (it once emitted an nn.ModuleDict indexed by integers: KeyError)."""
    network, module = build(tmp_path, """archspec: 1
name: net
input: [3, 16, 16]
body:
  - conv: {name: model.0, out: 8, kernel: 3, padding: 1}
  - concat: {name: model.1, from: [model.0, input]}
  - conv: {name: model.2, out: 4, kernel: 1}
""")
    model = module.net()
    assert isinstance(model.model, torch.nn.ModuleList) and isinstance(model.model[1], torch.nn.Identity)
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 4, 16, 16)
    assert list(model.state_dict()) == ["model.0.weight", "model.0.bias", "model.2.weight", "model.2.bias"]


def test_features_of_a_flattened_map_in_a_block_are_said_to_depend_on_the_input_size(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as raised:
        build(tmp_path, """archspec: 1
name: net
input: [3, 16, 16]
blocks:
  head:
    params: {out: int}
    body: [flatten, linear: {name: fc, out: out}]
body:
  - conv: {name: a, out: 2, kernel: 3}
  - head: {name: h1, from: a, out: 3}
  - conv: {name: b, from: input, out: 2, kernel: 5}
  - head: {name: h2, from: b, out: 3}
  - concat: {from: [h1, h2]}
""")
    (diagnostic,) = raised.value.diagnostics
    assert "'in' depends on the input size (it reads a flattened map)" in diagnostic.message


def test_a_nested_block_read_by_the_next_layer_gives_no_input_size_message(tmp_path: Path) -> None:
    """The old message blamed the input size when `in` depended on a nested block's output: the channels
    of nested blocks are expressions now, so the block is one class."""
    network, module = build(tmp_path, """archspec: 1
name: net
input: [3, 16, 16]
blocks:
  unit:
    params: {out: int}
    body: [conv: {name: conv, out: out * 2, kernel: 1}]
  pair:
    params: {out: int}
    body: [unit: {name: u, out: out}, bn: {name: bn}]
body:
  - pair: {name: p1, out: 2}
  - pair: {name: p2, out: 3}
""")
    assert module.net()(torch.randn(1, 3, 4, 4)).shape == (1, 6, 4, 4)
