"""The channel checks of the per-channel ops (frozen_bn, scale, l2norm, layer_norm): the located message and
hint of each refusal, on the channels-first axis and a channels-last map's last axis; and the LayerNorm2d
helper is written exactly where the emitted constructor calls it."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.ops import OPS
from archspec.ops.base import CodeArgs


def refusal(tmp_path: Path, body: str) -> tuple[str, str | None]:
    path = tmp_path / "net.yaml"
    path.write_text(f"archspec: 1\nname: n\ninput: [3, 8, 8]\nbody:\n{body}")
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    (diagnostic,) = raised.value.diagnostics
    return f"{diagnostic.span.line}:{diagnostic.span.column}: {diagnostic.message}", diagnostic.hint


@pytest.mark.parametrize("op", ["frozen_bn", "scale", "l2norm"])
def test_per_channel_op_given_other_channels(tmp_path: Path, op: str) -> None:
    assert refusal(tmp_path, f"  - relu\n  - {op}: {{features: 4}}\n")[0] == \
        f"6:5: {op} '{op}1': expects 4 channels, got 3"


def test_channels_last_layer_norm_counts_the_last_axis(tmp_path: Path) -> None:
    # (3, 8, 8) read as (H, W, C) has 8 channels
    assert refusal(tmp_path, "  - layer_norm: {channels_last: true, features: 3}\n")[0] == \
        "5:5: layer_norm 'layer_norm1': expects 3 channels, got 8"


def test_layer_norm_refuses_a_tensor_that_is_not_a_map(tmp_path: Path) -> None:
    assert refusal(tmp_path, "  - flatten\n  - unflatten: {shape: [4, 48]}\n  - layer_norm\n") == (
        "7:5: layer_norm 'layer_norm1': normalises the channels of a feature map, got a tensor of shape 4x48",
        "layer_norm takes a map (C, H, W), or (H, W, C) with 'channels_last: true'; place it before 'flatten'")


@pytest.mark.parametrize("channels_last", [False, True])
def test_layer_norm_helper_is_written_where_the_constructor_calls_it(channels_last: bool) -> None:
    attrs = {"eps": 1e-5, "affine": True, "channels_last": channels_last, "features": 8}
    op = OPS["layer_norm"]
    source = op.emit(CodeArgs(attrs, {name: repr(value) for name, value in attrs.items()}))
    assert op.needs_helper(attrs) == source.startswith(op.helper[0] + "(") == (not channels_last), source
