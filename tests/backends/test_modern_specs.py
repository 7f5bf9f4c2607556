"""The shipped specs of CNNs since 2017 against torchvision: state_dict keys in order with their shapes,
parameter counts, and outputs after loading torchvision's weights, at a small input (the analysis tests check
MACs against FlopCounterMode at three sizes and receptive fields for every shipped spec)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost

from ..conftest import import_file, shipped_specs

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

MODELS = ["mobilenet_v3_large", "mobilenet_v3_small", "convnext_tiny"]


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


BLOCK_CLASSES = {"mobilenet_v3_large": "InvertedResidual", "mobilenet_v3_small": "SqueezeExcitation",
                 "convnext_tiny": "CNBlock"}


@pytest.mark.parametrize("name", MODELS)
def test_block_class_written_once(name: str, tmp_path: Path) -> None:
    """One parameterised class per block, as torchvision writes it, not one per instance."""
    _, source, _ = emitted(name, tmp_path)
    assert source.count(f"class {BLOCK_CLASSES[name]}(nn.Module):") == 1
