"""`validate` at an input size other than the spec's checks the shapes at that size, and points a refused
size at the nearest ones the network takes (found here by trying every size with PyTorch's arithmetic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.validate import validate

SPEC = """archspec: 1
name: tiled
input: [3, 34, 34]
body:
  - conv: {out: 4, kernel: 3}
  - maxpool: {kernel: 2, exact: true}
"""


def takes(size: int) -> bool:
    """A 3x3 convolution without padding, then a 2x2 pool that must tile its input."""
    return (size - 2) % 2 == 0 and size >= 4


def test_validate_checks_the_shapes_at_the_input_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "tiled.yaml"
    path.write_text(SPEC)
    network = compile_spec(path)
    validate(network, (3, 36, 36))
    with pytest.raises(SpecError) as raised:
        validate(network, (3, 33, 33))
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.span.line == 6 and "of its 31x31 input" in diagnostic.message
    below = max(size for size in range(4, 33) if takes(size))
    above = min(size for size in range(34, 64) if takes(size))
    assert diagnostic.hint == f"the nearest inputs it takes are 3x{below}x{below} and 3x{above}x{above}"
