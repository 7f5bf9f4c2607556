"""The shipped specs of CNNs since 2017 against torchvision: state_dict keys in order with their shapes,
parameter counts, and outputs after loading torchvision's weights, at a small input (the analysis tests check
MACs against FlopCounterMode at three sizes and receptive fields for every shipped spec)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost

from ..conftest import import_file, shipped_specs

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

MODELS = ["mobilenet_v3_large", "mobilenet_v3_small", "convnext_tiny", "regnet_y_400mf"]


def emitted(name: str, tmp_path: Path):
    from archspec.backends.pytorch import emit_pytorch

    network = compile_spec(shipped_specs()[name])
    target = tmp_path / f"{name}_modern.py"
    source = emit_pytorch(network)
    target.write_text(source)
    return network, source, getattr(import_file(target, f"{name}_modern"), name)


@pytest.mark.parametrize("name", MODELS)
def test_matches_torchvision(name: str, tmp_path: Path) -> None:
    network, source, factory = emitted(name, tmp_path)
    torch.manual_seed(0)
    ours, reference = factory(), getattr(torchvision.models, name)(weights=None)
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours_state.items()] == [
        (k, tuple(v.shape)) for k, v in reference_state.items()]
    count = sum(p.numel() for p in reference.parameters())
    assert sum(p.numel() for p in ours.parameters()) == count == analyse_cost(network).total.params
    ours.load_state_dict(reference_state)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours.eval()(images) - reference.eval()(images)).abs().max().item() <= 1e-5


BLOCK_CLASSES = {"mobilenet_v3_large": ["InvertedResidual"], "mobilenet_v3_small": ["SqueezeExcitation"],
                 "convnext_tiny": ["CNBlock"], "regnet_y_400mf": ["ResBottleneckBlock", "SqueezeExcitation"]}


@pytest.mark.parametrize("name", MODELS)
def test_block_class_written_once(name: str, tmp_path: Path) -> None:
    """One parameterised class per block, as torchvision writes it, not one per instance."""
    _, source, _ = emitted(name, tmp_path)
    for block_class in BLOCK_CLASSES[name]:
        assert source.count(f"class {block_class}(nn.Module):") == 1, block_class


def test_regnet_block_builds_what_its_arguments_say(tmp_path: Path) -> None:
    """The emitted ResBottleneckBlock is torchvision's for arguments no instance of the spec has: a
    bottleneck wider than the output, a projection for the stride alone, and no squeeze-and-excitation
    (RegNetX)."""
    from torchvision.models.regnet import ResBottleneckBlock

    _, _, factory = emitted("regnet_y_400mf", tmp_path)
    module = sys.modules[factory.__module__]
    for width_in, width_out, stride, group_width, multiplier, se_ratio in (
            (24, 24, 2, 8, 2.0, 0.25), (16, 32, 1, 16, 1.0, 0.0), (40, 40, 1, 8, 0.5, 0.5)):
        torch.manual_seed(0)
        ours = module.ResBottleneckBlock(width_in, width_out, stride, group_width, multiplier, se_ratio)
        reference = ResBottleneckBlock(width_in, width_out, stride, torch.nn.BatchNorm2d, torch.nn.ReLU,
                                       group_width, multiplier, se_ratio or None)
        assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
            (k, v.shape) for k, v in reference.state_dict().items()]
        ours.load_state_dict(reference.state_dict())
        images = torch.randn(2, width_in, 8, 8)
        assert (ours.eval()(images) - reference.eval()(images)).abs().max().item() <= 1e-5


def test_regnet_scripts(tmp_path: Path) -> None:
    """The emitted RegNet (an nn.Sequential built from an OrderedDict under conditions in its block) scripts
    and computes what the eager module does."""
    _, _, factory = emitted("regnet_y_400mf", tmp_path)
    model = factory(num_classes=10).eval()
    scripted = torch.jit.script(model)
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(scripted(images), model(images))
