"""flatten's receptive field: every unit of the flattened vector sees the whole map before it, along each
axis on its own, so a non-square input tells the height from the width."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.receptive_field import receptive_fields


@pytest.mark.parametrize("height,width", [(12, 20), (20, 12), (9, 9)])
def test_flatten_sees_the_whole_map_per_axis(tmp_path: Path, height: int, width: int) -> None:
    kernel, stride, padding = 3, 2, 1
    (tmp_path / "net.yaml").write_text(f"""
input: [1, {height}, {width}]
body:
  - conv: {{name: c, out: 2, kernel: {kernel}, stride: {stride}, padding: {padding}}}
  - flatten: {{name: f}}
  - linear: {{name: fc, out: 3}}
""")
    fields = receptive_fields(compile_spec(tmp_path / "net.yaml"))
    # The conv's map has n = (side + 2p - k) // s + 1 units per axis; all n of them, k wide and s apart,
    # span k + (n - 1) s input pixels.
    spans = tuple(kernel + ((side + 2 * padding - kernel) // stride) * stride for side in (height, width))
    assert fields.of("f").size == spans
    assert fields.of("fc").size == spans  # a linear layer after it sees what the vector saw
