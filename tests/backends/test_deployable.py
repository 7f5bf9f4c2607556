"""Every emitted module passes torch.jit.script, torch.fx.symbolic_trace and torch.export.export, as users
deploying a model need (torchvision tests its models with the first), and the three agree with eager mode.

By default a set of specs that together use every construct of the shipped ones (stages, groups with
several outputs, module lists, F.interpolate, pooling indices, cropping helpers, blocks with two inputs,
extra methods, optional layers and flags, lists built in loops) is scripted and traced, and one exported
(an export costs seconds); ARCHSPEC_LONG=1 checks every shipped spec with all three.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec
from archspec.passes.shapes import accepts, nearest_accepted

from ..conftest import ROOT, import_file, shipped_specs

torch = pytest.importorskip("torch")

TEST_SPECS = Path(__file__).parent / "specs"
COVER = {"resnet18_fpn": shipped_specs()["resnet18_fpn"], "segnet": shipped_specs()["segnet"],
         "unet": shipped_specs()["unet"], "autoencoder": shipped_specs()["autoencoder"],
         "mobilenet_v2": TEST_SPECS / "mobilenet_v2.yaml",
         "repeats_in_blocks": TEST_SPECS / "repeats_in_blocks.yaml",
         "choices_and_shares": TEST_SPECS / "choices_and_shares.yaml"}
LONG = os.environ.get("ARCHSPEC_LONG") == "1"
CASES = {**shipped_specs(), **COVER} if LONG else COVER
EXPORTED = set(CASES) if LONG else {"segnet"}  # pooling indices and unpooling, the least common forward


def small_input(network) -> tuple[int, ...]:
    shape = network.input_shape
    if len(shape) != 3:
        return shape
    small = (shape[0], 64, 64)
    return small if accepts(network, small) else (nearest_accepted(network, small)[1] or shape)


def same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scripts_traces_and_exports(name: str, tmp_path: Path) -> None:
    network = compile_spec(CASES[name])
    path = tmp_path / f"{name}_deploy.py"
    path.write_text(emit_pytorch(network))
    torch.manual_seed(0)
    model = getattr(import_file(path, f"{name}_deploy"), network.name)().eval()
    x = torch.randn(1, *small_input(network))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's deprecation notice
        if hasattr(model, "head_outputs") or network.two_stage is not None:
            # torchvision's convention: a list of images in, detections out. Scripted, such a detector
            # returns (losses, detections) as torchvision's do. fx and export take tensors in and out, and
            # suppression is data-dependent: a detector's deployable form is the scripted one.
            images = [x[0]]
            expected = model(images)
            scripted = torch.jit.script(model)(images)
            assert same(scripted[1] if isinstance(scripted, tuple) else scripted, expected)
            return
        expected = model(x)
        assert same(torch.jit.script(model)(x), expected)
        assert same(torch.fx.symbolic_trace(model)(x), expected)
        if name in EXPORTED:
            assert same(torch.export.export(model, (x,)).module()(x), expected)


def test_the_cover_is_made_of_shipped_or_test_specs() -> None:
    assert all(path.is_file() and ROOT in path.parents for path in COVER.values())
