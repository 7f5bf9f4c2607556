"""Each op's code template builds the module PyTorch builds from the same attributes: the emitted constructor,
evaluated, has the settings and the parameter shapes of the module made here by hand, for attributes away
from their defaults and at them."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.ops import OPS
from archspec.ops.base import CodeArgs

torch = pytest.importorskip("torch")
nn = torch.nn

POOL = {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1), "ceil_mode": True}

CASES: list[tuple[str, dict[str, Any], Any]] = [
    ("avgpool", {**POOL, "count_include_pad": False}, lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True,
                                                                         count_include_pad=False)),
    ("avgpool", {"kernel": (2, 2), "stride": (2, 2), "padding": (0, 0), "ceil_mode": False,
                 "count_include_pad": True}, lambda: nn.AvgPool2d(2)),
    ("maxpool", {**POOL, "dilation": (2, 2), "indices": True},
     lambda: nn.MaxPool2d(3, 2, 1, dilation=2, return_indices=True, ceil_mode=True)),
    ("maxpool", {"kernel": (2, 3), "stride": (1, 1), "padding": (0, 1), "dilation": (1, 1), "ceil_mode": False,
                 "indices": False}, lambda: nn.MaxPool2d((2, 3), 1, (0, 1))),
    ("conv", {"in": 4, "out": 8, "kernel": (3, 1), "stride": (2, 2), "padding": (1, 0), "dilation": (1, 2),
              "groups": 2, "bias": False}, lambda: nn.Conv2d(4, 8, (3, 1), 2, (1, 0), (1, 2), groups=2, bias=False)),
    ("conv_transpose", {"in": 4, "out": 8, "kernel": (3, 3), "stride": (2, 2), "padding": (1, 1),
                        "output_padding": (1, 1), "dilation": (1, 1), "groups": 1, "bias": True},
     lambda: nn.ConvTranspose2d(4, 8, 3, 2, 1, output_padding=1)),
    ("bn", {"features": 8, "eps": 1e-3, "momentum": 0.01, "affine": False, "rank": 3},
     lambda: nn.BatchNorm2d(8, eps=1e-3, momentum=0.01, affine=False)),
    ("bn", {"features": 8, "eps": 1e-5, "momentum": 0.1, "affine": True, "rank": 1}, lambda: nn.BatchNorm1d(8)),
    ("linear", {"in": 6, "out": 3, "bias": False, "channels_last": False}, lambda: nn.Linear(6, 3, bias=False)),
    ("leaky_relu", {"slope": 0.2, "inplace": True}, lambda: nn.LeakyReLU(0.2, inplace=True)),
    ("dropout", {"p": 0.2, "inplace": True}, lambda: nn.Dropout(0.2, inplace=True)),
    ("gelu", {"approximate": "tanh"}, lambda: nn.GELU(approximate="tanh")),
    ("upsample", {"factor": (2, 2), "mode": "bilinear"},
     lambda: nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)),
    ("adaptive_avgpool", {"size": (1, 1)}, lambda: nn.AdaptiveAvgPool2d((1, 1))),
    ("identity", {}, lambda: nn.Identity()),
]


@pytest.mark.parametrize("op, attrs, expected", CASES, ids=[f"{op}-{i}" for i, (op, _, _) in enumerate(CASES)])
def test_emitted_constructor_builds_the_module_pytorch_builds(op: str, attrs: dict[str, Any], expected: Any) -> None:
    source = OPS[op].emit(CodeArgs(attrs, {name: repr(value) for name, value in attrs.items()}))
    built = eval(source, {"nn": nn})  # noqa: S307 (the op's own template)
    assert type(built) is type(expected()) and settings(built) == settings(expected()), source


def settings(module: Any) -> dict[str, Any]:
    """What the module was built with: its public attributes (a print of the module leaves some out, such as
    an average pool's count_include_pad) and the shapes of its parameters."""
    found = {name: value for name, value in vars(module).items() if not name.startswith("_") and name != "training"}
    return {**found, **{name: tuple(p.shape) for name, p in module.named_parameters()}}


@pytest.mark.parametrize("attrs", [{"sizes": None, "chunks": 3}, {"sizes": [2, 6, 4], "chunks": None}])
def test_split_piece_channels_written_for_block_classes_are_those_of_its_pieces(attrs: dict[str, Any]) -> None:
    """A block class computes each piece's channels from its arguments; they must be the pieces' own."""
    from archspec.spec.expr import evaluate, parse

    split = OPS["split"]
    env = {"in_channels": 12, **attrs}
    written = [evaluate(parse(text), env) for text in split.piece_channels(attrs)]
    assert written == [shape[0] for shape in split.pieces(attrs, (12, 5, 5))] == ([4, 4, 4] if attrs["chunks"]
                                                                                 else [2, 6, 4])


def test_templates_of_ops_written_into_forward_compute_what_pytorch_computes() -> None:
    """Ops emitted as a call in forward (no module): the template, filled with two tensors, evaluated."""
    import torch.nn.functional as F

    x = torch.arange(2 * 5 * 5, dtype=torch.float32).reshape(1, 2, 5, 5)  # pooled to 3x3, unpooled back to 5x5
    pooled, indices = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    unpool = {"kernel": (3, 3), "stride": (2, 2), "padding": (1, 1)}
    template = OPS["maxunpool"].emit(CodeArgs(unpool, {name: repr(v) for name, v in unpool.items()}))
    assert torch.equal(eval(template.format("pooled", "indices"), {"F": F, "pooled": pooled, "indices": indices}),
                       F.max_unpool2d(pooled, indices, 3, 2, 1))  # noqa: S307
    resize = OPS["resize"].emit(CodeArgs({"mode": "bilinear"}, {"mode": '"bilinear"'}))
    small = torch.rand(1, 2, 3, 3)
    assert torch.equal(eval(resize.format("small", "x"), {"F": F, "small": small, "x": x}),  # noqa: S307
                       F.interpolate(small, size=(5, 5), mode="bilinear", align_corners=False))


@pytest.mark.parametrize("eps", [1e-5, 1e-3])
def test_frozen_batch_norm_is_built_with_its_eps_and_computes_torchvisions(eps: float) -> None:
    """The emitted FrozenBatchNorm2d (a helper class written into the file) against torchvision.ops' own,
    with the same buffers: the eps it was built with is the one it computes with."""
    import inspect

    from torchvision.ops import FrozenBatchNorm2d

    op = OPS["frozen_bn"]
    attrs = {"features": 3, "eps": eps}
    source = op.emit(CodeArgs(attrs, {name: repr(value) for name, value in attrs.items()}))
    namespace: dict[str, Any] = {"torch": torch, "nn": nn, "Tensor": torch.Tensor}
    exec(op.helper[1], namespace)  # noqa: S102 (the op's own helper)
    built = eval(source, namespace)  # noqa: S307 (the op's own template)
    reference = FrozenBatchNorm2d(3, eps=eps)
    torch.manual_seed(0)
    state = {"weight": torch.rand(3), "bias": torch.rand(3), "running_mean": torch.rand(3),
             "running_var": torch.rand(3) * 1e-3}  # small variances, where eps shows
    built.load_state_dict(state)
    reference.load_state_dict(state)
    x = torch.rand(1, 3, 2, 2)
    assert built.eps == eps
    default = inspect.signature(FrozenBatchNorm2d).parameters["eps"].default  # left out, as torchvision writes it
    assert source == ("FrozenBatchNorm2d(3)" if eps == default else f"FrozenBatchNorm2d(3, eps={eps!r})")
    assert torch.allclose(built(x), reference(x), rtol=1e-6, atol=0)
