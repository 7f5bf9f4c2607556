"""The normalisations' rules: batch norm fixed to the rank it was built for (nn.BatchNorm2d or nn.BatchNorm1d,
which refuse any other), layer norm's refusal of what is not a feature map, and the constructors they are
emitted as, against the modules PyTorch builds. Small specs, compiled in milliseconds."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.ops import OPS
from archspec.ops.base import CodeArgs


def spec(tmp_path: Path, input_shape: str, *layers: str) -> Path:
    path = tmp_path / "norm.yaml"
    path.write_text(f"archspec: 1\nname: norm\ninput: {input_shape}\nbody:\n" + "".join(f"  - {layer}\n"
                                                                                       for layer in layers))
    return path


def errors_of(path: Path) -> list[tuple[str, str | None]]:
    """Each error as `file:line:col: message`, with its hint."""
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    return [(f"{d.span}: {d.message}", d.hint) for d in raised.value.diagnostics if d.severity == "error"]


# ------------------------------------------------------------------ batch norm's rank


def test_batch_norm_shared_by_a_vector_after_a_map_is_refused(tmp_path: Path) -> None:
    """bn1 is an nn.BatchNorm2d; PyTorch's refuses the (N, 8) vector its shared use would give it."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="expected 4D input"):
        torch.nn.BatchNorm2d(8)(torch.zeros(2, 8))
    path = spec(tmp_path, "[8, 4, 4]", "bn: {name: bn1}", "adaptive_avgpool: {size: 1}", "flatten",
                "bn: {name: bn2, share: bn1}")
    assert errors_of(path) == [(f"{path}:8:5: 'bn2' shares 'bn1' but expects a feature map (C, H, W), got a tensor "
                                "of shape 8", "it cannot follow 'flatten' or 'linear'")]


def test_batch_norm_shared_by_a_map_after_a_vector_is_refused(tmp_path: Path) -> None:
    """bn1 is an nn.BatchNorm1d; PyTorch's refuses the (N, 8, 1, 1) map its shared use would give it."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        torch.nn.BatchNorm1d(8)(torch.zeros(2, 8, 1, 1))
    path = spec(tmp_path, "[8]", "bn: {name: bn1}", "unflatten: {shape: [8, 1, 1]}", "bn: {name: bn2, share: bn1}")
    assert errors_of(path) == [(f"{path}:7:5: 'bn2' shares 'bn1' but expects a vector of features, got shape 8x1x1",
                                "add a 'flatten' (after an adaptive pool) before it")]


def test_batch_norm_shared_at_its_own_rank_takes_the_input(tmp_path: Path) -> None:
    network = compile_spec(spec(tmp_path, "[8, 4, 4]", "bn: {name: bn1}", "bn: {name: bn2, share: bn1}"))
    assert [(node.name, node.shape) for node in network.root.nodes] == [("bn1", (8, 4, 4)), ("bn2", (8, 4, 4))]


# ------------------------------------------------------------------ layer norm's input


def test_layer_norm_reading_an_input_of_two_axes_points_at_the_input(tmp_path: Path) -> None:
    """The mistake is the `input` (a greyscale image written [28, 28]), not the layer that reads it."""
    path = spec(tmp_path, "[28, 28]", "layer_norm")
    assert errors_of(path) == [(f"{path}:3:8: 'input' must be [channels, height, width], got [28, 28]",
                                "layer_norm 'layer_norm1' (line 5) reads it as a feature map; an image with one "
                                "channel is [1, 28, 28]")]


def test_layer_norm_refuses_a_tensor_of_two_axes_made_in_the_network(tmp_path: Path) -> None:
    path = spec(tmp_path, "[16]", "unflatten: {shape: [4, 4]}", "layer_norm")
    assert errors_of(path) == [(f"{path}:6:5: layer_norm 'layer_norm1': normalises the channels of a feature map, "
                                "got a tensor of shape 4x4", "layer_norm takes a map (C, H, W), or (H, W, C) with "
                                "'channels_last: true'; place it before 'flatten'")]


# ------------------------------------------------------------------ layer norm's constructor

LAYER_NORMS = [({"eps": 1e-5, "affine": True}, "(8)"), ({"eps": 1e-6, "affine": True}, "(8, eps=1e-06)"),
               ({"eps": 1e-5, "affine": False}, "(8, elementwise_affine=False)"),
               ({"eps": 1e-6, "affine": False}, "(8, eps=1e-06, elementwise_affine=False)")]


@pytest.mark.parametrize("attrs, arguments", LAYER_NORMS)
@pytest.mark.parametrize("channels_last", [True, False])
def test_layer_norm_is_built_as_pytorchs_with_its_settings(attrs: dict[str, Any], arguments: str,
                                                            channels_last: bool) -> None:
    """nn.LayerNorm on a channels-last map, the LayerNorm2d helper (an nn.LayerNorm over the channel axis, as
    torchvision's ConvNeXt has it) on a channels-first one: keywords only away from nn.LayerNorm's defaults."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    defaults = inspect.signature(nn.LayerNorm).parameters
    assert (defaults["eps"].default, defaults["elementwise_affine"].default) == (1e-5, True)
    op = OPS["layer_norm"]
    values = {**attrs, "features": 8, "channels_last": channels_last}
    source = op.emit(CodeArgs(values, {name: repr(value) for name, value in values.items()}))
    assert source == ("nn.LayerNorm" if channels_last else "LayerNorm2d") + arguments
    namespace: dict[str, Any] = {"nn": nn, "Tensor": torch.Tensor}
    exec(op.helper[1], namespace)  # noqa: S102 (the op's own helper)
    built = eval(source, namespace)  # noqa: S307 (the op's own template)
    expected = nn.LayerNorm(8, eps=attrs["eps"], elementwise_affine=attrs["affine"])
    assert (built.normalized_shape, built.eps, built.elementwise_affine) == \
        (expected.normalized_shape, expected.eps, expected.elementwise_affine)
    torch.manual_seed(0)
    x = torch.rand(1, 8, 2, 3)
    if channels_last:
        assert torch.allclose(built(x.permute(0, 2, 3, 1)), expected(x.permute(0, 2, 3, 1)))
    else:
        assert torch.allclose(built(x), expected(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))


@pytest.mark.parametrize("channels_last", [True, False])
def test_only_a_channels_first_layer_norm_writes_the_layer_norm_2d_helper(tmp_path: Path,
                                                                          channels_last: bool) -> None:
    layers = ["permute: {dims: [0, 2, 3, 1]}", "layer_norm: {channels_last: true}", "permute: {dims: [0, 3, 1, 2]}"]
    code = emit_pytorch(compile_spec(spec(tmp_path, "[8, 4, 4]", *(layers if channels_last else ["layer_norm"]))))
    assert ("class LayerNorm2d(nn.LayerNorm):" in code) is not channels_last
    assert ("self.layer_norm1 = nn.LayerNorm(8)" if channels_last else "self.layer_norm1 = LayerNorm2d(8)") in code
