"""The ops detectors need, as emitted in a detector's blocks: l2norm (SSD's conv4_3) and pixel_unshuffle."""

from __future__ import annotations

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec, validate_spec
from archspec.errors import SpecError
from tests.conftest import import_file

BLOCK = """\
archspec: 1
name: l2block
input: [3, 16, 16]
blocks:
  b:
    params: {w: int}
    body:
      - conv: {out: w, kernel: 1}
      - l2norm: {name: scale, init: 10}
body:
  - b: {name: b, w: 4}
  - pixel_unshuffle: {factor: 2}
"""


def test_l2norm_in_a_block_and_pixel_unshuffle(tmp_path):
    torch = pytest.importorskip("torch")
    (tmp_path / "l2block.yaml").write_text(BLOCK)
    network = compile_spec(tmp_path / "l2block.yaml")
    assert network.root.nodes[-1].shape == (16, 8, 8)
    path = tmp_path / "l2block_emitted.py"
    path.write_text(emit_pytorch(network))
    model = import_file(path, "l2block_emitted").l2block()
    assert set(model.state_dict()) == {"b.scale", "b.conv1.weight", "b.conv1.bias"}
    x = torch.rand(1, 3, 16, 16)
    features = model.b.conv1(x)
    expected = torch.nn.functional.pixel_unshuffle(10 * features / features.norm(dim=1, keepdim=True), 2)
    assert torch.allclose(model(x), expected, atol=1e-6)
    torch.jit.script(model)


@pytest.mark.parametrize("text, message", [
    (BLOCK.replace("      - l2norm: {name: scale, init: 10}\n", "").replace(
        "  - b: {name: b, w: 4}\n", "  - seq: {body: [conv: {out: 4, kernel: 1}, l2norm]}\n"),
     "'l2norm' cannot be an element of a 'seq'"),
    (BLOCK.replace("[3, 16, 16]", "[3, 15, 15]"), "cannot cut the 15x15 input into 2x2 patches"),
])
def test_misuse_is_located(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SpecError) as caught:
        validate_spec(tmp_path / "bad.yaml")
    assert any(message in d.message for d in caught.value.diagnostics), caught.value
