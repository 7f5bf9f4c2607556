"""A transposed convolution whose padding leaves no output: refused with the output size on each axis, the
height first, as PyTorch computes it (its error names the same `Calculated output size`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

# The input, the layer as a spec writes it, and the same layer's nn.ConvTranspose2d arguments after (in, out).
CASES = [
    ([3, 1, 2], "{out: 4, kernel: 1, padding: [1, 0]}", dict(kernel_size=1, padding=(1, 0))),  # no rows
    ([3, 3, 1], "{out: 4, kernel: 3, padding: [0, 2]}", dict(kernel_size=3, padding=(0, 2))),  # no columns
    ([3, 2, 1], "{out: 4, kernel: 2, stride: [1, 2], padding: [0, 2], dilation: [2, 1]}",
     dict(kernel_size=2, stride=(1, 2), padding=(0, 2), dilation=(2, 1))),
]


@pytest.mark.parametrize("input_shape, layer, arguments", CASES, ids=["rows", "columns", "strided"])
def test_conv_transpose_padding_that_leaves_no_output_is_refused_with_pytorchs_sizes(
        tmp_path: Path, input_shape: list[int], layer: str, arguments: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as refused:
        torch.nn.ConvTranspose2d(3, 4, **arguments)(torch.zeros(1, *input_shape))
    height, width = re.search(r"Calculated output size per channel: \((-?\d+) x (-?\d+)\)",
                              str(refused.value)).groups()
    path = tmp_path / "transposed.yaml"
    path.write_text(f"archspec: 1\nname: transposed\ninput: {input_shape}\nbody:\n  - conv_transpose: {layer}\n")
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    assert [(str(d.span), d.message) for d in raised.value.diagnostics] == [
        (f"{path}:5:5", f"conv_transpose 'conv_transpose1': the padding leaves no output ({height}x{width})")]
