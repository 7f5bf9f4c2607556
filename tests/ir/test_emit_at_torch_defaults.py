"""Emitted constructors at PyTorch's defaults read as torchvision writes them: no keyword whose value is the
default of the PyTorch signature (read from the class itself), and the module PyTorch builds. Also what an
emitted constructor writes where a value is known only as an expression, and F.interpolate's keywords."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest

from archspec.ops import OPS
from archspec.ops.base import CodeArgs

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

# op, attributes at archspec's defaults, the PyTorch class the constructor calls
AT_DEFAULTS: list[tuple[str, dict[str, Any], Any]] = [
    ("leaky_relu", {"slope": 0.01, "inplace": False}, nn.LeakyReLU),
    ("layer_norm", {"eps": 1e-5, "affine": True, "channels_last": True, "features": 8}, nn.LayerNorm),
    ("layer_norm", {"eps": 1e-5, "affine": True, "channels_last": False, "features": 8}, nn.LayerNorm),
    ("bn", {"eps": 1e-5, "momentum": 0.1, "affine": True, "features": 8, "rank": 3}, nn.BatchNorm2d),
]


def emitted(op: str, values: dict[str, Any], sources: dict[str, str] | None = None) -> str:
    sources = sources if sources is not None else {name: repr(value) for name, value in values.items()}
    return OPS[op].emit(CodeArgs(values, sources))


@pytest.mark.parametrize("op, attrs, torch_class", AT_DEFAULTS, ids=[f"{op}-{i}" for i, (op, _, _) in
                                                                    enumerate(AT_DEFAULTS)])
def test_constructor_at_defaults_writes_no_default_keyword(op: str, attrs: dict[str, Any], torch_class: Any) -> None:
    source = emitted(op, attrs)
    (call,) = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)]
    defaults = {name: p.default for name, p in inspect.signature(torch_class).parameters.items()}
    written = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    assert not {name for name, value in written.items() if defaults.get(name) == value}, source


def test_batch_norm_without_a_known_rank_is_the_feature_map_form() -> None:
    # A block's constructor knows the features only as an expression, and no rank: nn.BatchNorm2d, as for a map.
    source = emitted("bn", {"eps": 1e-5, "momentum": 0.1, "affine": True}, {"features": "planes", "eps": "1e-05",
                                                                            "momentum": "0.1", "affine": "True"})
    assert source == "nn.BatchNorm2d(planes)"
    assert emitted("bn", {"features": 8, "rank": 1, "eps": 1e-5, "momentum": 0.1, "affine": True}) == \
        "nn.BatchNorm1d(8)"


@pytest.mark.parametrize("op, torch_class", [("adaptive_avgpool", "nn.AdaptiveAvgPool2d"),
                                             ("adaptive_maxpool", "nn.AdaptiveMaxPool2d")])
def test_adaptive_pool_size_known_only_as_an_expression(op: str, torch_class: str) -> None:
    assert emitted(op, {}, {"size": "output_size"}) == f"{torch_class}(output_size)"
    assert emitted(op, {"size": (7, 7)}, {"size": "7"}) == f"{torch_class}((7, 7))"


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_resize_interpolates_as_pytorch_does(mode: str) -> None:
    # align_corners is named for bilinear, as the upsample op's nn.Upsample has it; for nearest PyTorch refuses it.
    template = emitted("resize", {"mode": mode})
    assert ("align_corners=False" in template) == (mode == "bilinear"), template
    x, like = torch.arange(2 * 3 * 4.0).reshape(1, 2, 3, 4), torch.zeros(1, 5, 7, 9)
    got = eval(template.format("x", "like"), {"F": F, "x": x, "like": like})  # noqa: S307 (the op's template)
    extra = {"align_corners": False} if mode == "bilinear" else {}
    assert torch.equal(got, F.interpolate(x, size=(7, 9), mode=mode, **extra))
