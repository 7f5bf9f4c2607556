"""The source each op's code template writes, where building the module cannot tell: a keyword at PyTorch's
default is left out as torchvision leaves it out (the module is the same either way), `F.interpolate` says
`align_corners=False` where it interpolates, as torchvision's segmentation heads write it, and a list known
only as an expression of a block's parameters is written as that expression."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest

from archspec.ops import OPS
from archspec.ops.base import REQUIRED, CodeArgs

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def emitted(op: str, attrs: dict[str, Any]) -> str:
    return OPS[op].emit(CodeArgs(attrs, {name: repr(value) for name, value in attrs.items()}))


def keywords_of(source: str) -> dict[str, Any]:
    call = ast.parse(source, mode="eval").body
    assert isinstance(call, ast.Call), source
    return {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}


# The ops' keywords and the PyTorch class that takes them: (op, the spec's other attributes, class, keywords
# as the op calls them -> as PyTorch does).
MODULES = [
    ("avgpool", {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0)}, nn.AvgPool2d,
     {"ceil_mode": "ceil_mode", "count_include_pad": "count_include_pad"}),
    ("maxpool", {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0), "dilation": (1, 1)}, nn.MaxPool2d,
     {"ceil_mode": "ceil_mode", "indices": "return_indices"}),
    ("dropout", {}, nn.Dropout, {"p": "p", "inplace": "inplace"}),
    ("bn", {"features": 8, "rank": 3}, nn.BatchNorm2d, {"eps": "eps", "momentum": "momentum", "affine": "affine"}),
    ("layer_norm", {"features": 8, "channels_last": True}, nn.LayerNorm,
     {"eps": "eps", "affine": "elementwise_affine"}),
]


@pytest.mark.parametrize("op, others, torch_class, names", MODULES, ids=[case[0] for case in MODULES])
def test_at_the_spec_defaults_no_keyword_at_pytorchs_default_is_written(op: str, others: dict[str, Any],
                                                                         torch_class: Any, names: dict[str, str]
                                                                         ) -> None:
    """The spec's defaults are PyTorch's, and the constructor written for them says none of them."""
    signature = inspect.signature(torch_class).parameters
    defaults = {name: OPS[op].attrs[name].default for name in names}
    assert all(value is not REQUIRED for value in defaults.values())
    assert {names[name]: value for name, value in defaults.items()} == \
        {torch_name: signature[torch_name].default for torch_name in names.values()}
    source = emitted(op, {**others, **defaults})
    assert not set(keywords_of(source)) & set(names.values()), source


@pytest.mark.parametrize("op, others, torch_class, names", MODULES, ids=[case[0] for case in MODULES])
def test_a_setting_away_from_pytorchs_default_is_written_and_built(op: str, others: dict[str, Any],
                                                                    torch_class: Any, names: dict[str, str]) -> None:
    signature = inspect.signature(torch_class).parameters
    for name, torch_name in names.items():
        default = OPS[op].attrs[name].default
        other = (not default) if isinstance(default, bool) else default / 2
        attrs = {**others, **{n: OPS[op].attrs[n].default for n in names}, name: other}
        source = emitted(op, attrs)
        assert keywords_of(source).get(torch_name) == other != signature[torch_name].default, source
        assert getattr(eval(source, {"nn": nn}), torch_name) == other  # noqa: S307 (the op's own template)


# ------------------------------------------------------------------ F.interpolate in forward


def test_resize_interpolates_bilinearly_as_torchvisions_segmentation_heads_write_it() -> None:
    # torchvision.models.segmentation (FCN, DeepLabV3): F.interpolate(x, size=..., mode="bilinear",
    # align_corners=False).
    template = OPS["resize"].emit(CodeArgs({"mode": "bilinear"}, {"mode": '"bilinear"'}))
    assert template == 'F.interpolate({0}, size={1}.shape[-2:], mode="bilinear", align_corners=False)'


def test_resize_by_nearest_neighbour_passes_no_align_corners() -> None:
    """PyTorch refuses align_corners for nearest: the template, evaluated, is F.interpolate's nearest resize."""
    template = OPS["resize"].emit(CodeArgs({"mode": "nearest"}, {"mode": '"nearest"'}))
    assert template == 'F.interpolate({0}, size={1}.shape[-2:], mode="nearest")'
    small, like = torch.rand(1, 2, 3, 3), torch.zeros(1, 4, 5, 7)
    result = eval(template.format("small", "like"), {"F": F, "small": small, "like": like})  # noqa: S307
    assert torch.equal(result, F.interpolate(small, size=(5, 7), mode="nearest"))


# ------------------------------------------------------------------ lists known only as source


def test_split_sizes_known_only_as_a_block_expression_are_written_as_it() -> None:
    """In a block class, `sizes: [half, half]` is an expression of the block's parameters, with no value."""
    template = OPS["split"].emit(CodeArgs({"chunks": None}, {"sizes": "[half, half]", "chunks": "None"}))
    assert template == "torch.split({0}, [half, half], dim=1)"
    x = torch.rand(1, 6, 2, 2)
    pieces = eval(template.format("x"), {"torch": torch, "x": x, "half": 3})  # noqa: S307
    assert [tuple(piece.shape) for piece in pieces] == [(1, 3, 2, 2), (1, 3, 2, 2)]
    known = OPS["split"].emit(CodeArgs({"sizes": (2, 4), "chunks": None}, {"sizes": "(2, 4)", "chunks": "None"}))
    assert known == "torch.split({0}, [2, 4], dim=1)"  # List[int], as torch.split's signature takes it


def test_permute_dims_known_only_as_a_block_expression_are_written_as_it() -> None:
    op = OPS["permute"]
    assert op.emit(CodeArgs({}, {"dims": "dims"})) == "Permute(dims)"
    assert op.emit(CodeArgs({"dims": (0, 2, 3, 1)}, {"dims": "(0, 2, 3, 1)"})) == "Permute([0, 2, 3, 1])"
    namespace: dict[str, Any] = {"torch": torch, "nn": nn, "Tensor": torch.Tensor, "dims": [0, 2, 3, 1]}
    exec(op.helper[1], namespace)  # noqa: S102 (the op's own helper)
    x = torch.rand(1, 2, 3, 4)
    assert torch.equal(eval("Permute(dims)", namespace)(x), torch.permute(x, (0, 2, 3, 1)))  # noqa: S307
