"""Unflatten, which turns a vector back into a feature map (a decoder after its bottleneck): what its diagram
box says, the nn.Unflatten it is emitted as, and its refusal of a shape that is not the vector's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.ops import OPS
from archspec.ops.base import CodeArgs


def network_path(tmp_path: Path, shape: str) -> Path:
    path = tmp_path / "decoder.yaml"
    path.write_text(f"archspec: 1\nname: decoder\ninput: [48]\nbody:\n  - unflatten: {{name: grid, shape: {shape}}}\n")
    return path


@pytest.mark.parametrize("shape, label", [("[3, 4, 4]", "unflatten to 3×4×4"),
                                          ("[12, 2, 2]", "unflatten to 12×2×2"),
                                          ("[48, 1, 1]", "unflatten to 48×1×1")])
def test_unflatten_is_labelled_with_the_map_it_makes(tmp_path: Path, shape: str, label: str) -> None:
    node = compile_spec(network_path(tmp_path, shape)).root.node("grid")
    assert OPS["unflatten"].label(node.attrs) == label
    assert node.shape == tuple(int(size) for size in label.split()[-1].split("×"))


def test_unflatten_is_emitted_as_nn_unflatten_of_the_channel_axis() -> None:
    torch = pytest.importorskip("torch")
    source = OPS["unflatten"].emit(CodeArgs({"shape": (3, 4, 4)}, {"shape": "[3, 4, 4]"}))
    built = eval(source, {"nn": torch.nn})  # noqa: S307 (the op's own template)
    x = torch.arange(2 * 48.0).reshape(2, 48)
    assert torch.equal(built(x), torch.nn.Unflatten(1, (3, 4, 4))(x))


def test_unflatten_refuses_a_shape_of_another_size(tmp_path: Path) -> None:
    path = network_path(tmp_path, "[3, 4, 5]")
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    assert [(str(d.span), d.message, d.hint) for d in raised.value.diagnostics] == [
        (f"{path}:5:5", "unflatten 'grid': cannot arrange 48 features as 3x4x5", "the shape's product must be 48")]
