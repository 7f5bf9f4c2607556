"""The shape pass (`passes/shapes.py`) at inputs the network cannot take: which layers get a shape, which
diagnostics are given, and how a shared block applied again names the layer that cannot take its input.
The sizes are PyTorch's arithmetic: a k x k convolution without padding makes n into n - k + 1."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.shapes import infer_shapes, module_output_shapes

BRANCHES = """input: [3, 8, 8]
body:
  - conv: {name: a, out: 4, kernel: 3}
  - relu: {name: b}
  - conv: {name: side, from: input, out: 2, kernel: 1}
"""

# `head` applied to the stem's map, then again, with the same weights, to the 4x4-pooled map
SHARED = """input: [3, 8, 8]
blocks:
  head:
    body:
      - conv: {name: conv, out: 4, kernel: 3}
      - relu: {name: act}
body:
  - conv: {name: stem, out: 4, kernel: 1}
  - head: {name: head, from: stem}
  - maxpool: {name: down, from: stem, kernel: POOL}
  - head: {name: small, from: down, share: head}
"""
TOO_SMALL = ("5:9: error: conv 'small.conv': the 3x3 kernel does not fit the 2x2 input (output would be 0x0) "
             "(input 4x2x2)")


def test_a_layer_after_a_failed_one_has_no_shape_and_no_error_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "branches.yaml"
    path.write_text(BRANCHES)
    result = infer_shapes(compile_spec(path), (3, 2, 2))  # a 3x3 kernel does not fit 2x2
    assert [d.headline() for d in result.diagnostics.errors] == [
        f"{path}:3:5: error: conv 'a': the 3x3 kernel does not fit the 2x2 input (output would be 0x0) (input 3x2x2)"]
    # `b` reads the failed `a`: no shape; `side` reads the input and is inferred as ever
    assert result.shapes == {"input": (3, 2, 2), "side": (2, 2, 2)} and result.outputs == [(2, 2, 2)]
    assert not result.ok


def test_a_shared_block_that_cannot_take_its_input_names_the_layer_applying_it(tmp_path: Path) -> None:
    """Refused while lowering (the 2x2 map is too small for the 3x3 conv), as `infer_shapes` refuses the same
    layer at another input: as `small.conv`, not `head.conv`, which takes its own 6x6 input."""
    path = tmp_path / "shared.yaml"
    path.write_text(SHARED.replace("POOL", "4"))
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.headline() == f"{path}:{TOO_SMALL}"
    assert diagnostic.hint == "use a larger input or more padding"

    path.write_text(SHARED.replace("POOL", "2"))  # takes its 8x8 input: 4x4 after the pool
    network = compile_spec(path)
    assert network.root.node("small").shape == (4, 2, 2)
    result = infer_shapes(network, (3, 4, 4))  # 2x2 after the pool
    assert [d.headline() for d in result.diagnostics.errors] == [f"{path}:{TOO_SMALL}"]


def test_module_output_shapes_of_a_block_at_other_inputs(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(SHARED.replace("POOL", "2"))
    head = compile_spec(path).root.node("head").called_module()
    assert module_output_shapes(head, [(4, 9, 7)], "again") == [(4, 7, 5)]
    with pytest.raises(SpecError) as raised:
        module_output_shapes(head, [(4, 2, 2)], "again")
    assert [d.headline() for d in raised.value.diagnostics] == [
        f"{path}:5:9: error: conv 'again.conv': the 3x3 kernel does not fit the 2x2 input (output would be 0x0) "
        "(input 4x2x2)"]
