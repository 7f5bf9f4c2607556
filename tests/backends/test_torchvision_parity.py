"""Emitted modules match torchvision: state_dict keys and shapes, parameter counts, and outputs.

This is what lets a user load pretrained torchvision weights into a module
built from a spec. torchvision is only a test dependency.
"""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from archspec.backends.pytorch import emit_pytorch  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402

from ..conftest import import_file, shipped_specs  # noqa: E402

MODELS = ["alexnet", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
          "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
          "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2"]
if os.environ.get("ARCHSPEC_LONG") == "1":
    MODELS.append("wide_resnet101_2")  # 127 million parameters to initialise twice: the long profile only

# One member of each family is compared at torchvision's 224 × 224; the others at 64 × 64, where every
# layer still runs (adaptive pooling feeds the classifier the size it takes at 224), so a wrong layer
# still shows in the outputs, at a twelfth of the arithmetic.
FULL_INPUT = {"alexnet", "vgg16", "vgg16_bn", "resnet18", "resnet50"}

# Parameter counts published in torchvision's model documentation.
PUBLISHED_PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet50": 25_557_032,
                    "resnext50_32x4d": 25_028_904, "resnext101_32x8d": 88_791_336,
                    "wide_resnet50_2": 68_883_240, "wide_resnet101_2": 126_886_696}


def build(name: str, tmp_path):
    network = compile_spec(shipped_specs()[name])
    path = tmp_path / f"{name}_generated.py"
    path.write_text(emit_pytorch(network))
    module = import_file(path, f"{name}_generated")
    return getattr(module, name)()


@pytest.mark.parametrize("name", MODELS)
def test_matches_torchvision(name: str, tmp_path) -> None:
    torch.manual_seed(0)
    with torch.device("meta"):  # no storage and no random draws: the weights come from the reference below
        ours = build(name, tmp_path)  # (that they also start equal is tests/backends/test_init.py's check)
    reference = getattr(torchvision.models, name)(weights=None)

    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert list(ours_state) == list(reference_state)
    assert {k: tuple(v.shape) for k, v in ours_state.items()} == {k: tuple(v.shape) for k, v in
                                                                 reference_state.items()}
    count = sum(p.numel() for p in ours.parameters())
    assert count == sum(p.numel() for p in reference.parameters())
    if name in PUBLISHED_PARAMS:
        assert count == PUBLISHED_PARAMS[name]

    ours.load_state_dict(reference_state, assign=True)
    assert not any(t.is_meta for t in [*ours.parameters(), *ours.buffers()]), "a tensor the state_dict lacks"
    ours.eval()
    reference.eval()
    side = 224 if name in FULL_INPUT else 64
    images = torch.randn(2, 3, side, side)
    with torch.no_grad():
        difference = (ours(images) - reference(images)).abs().max().item()
    assert difference <= 1e-5


def test_trains_one_step(tmp_path) -> None:
    """A generated module trains: a backward pass reaches every parameter and an SGD step changes the loss."""
    torch.manual_seed(0)
    model = build("resnet18", tmp_path)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    images, labels = torch.randn(4, 3, 64, 64), torch.tensor([1, 2, 3, 4])
    loss = torch.nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    optimiser.step()
    with torch.no_grad():
        assert torch.nn.functional.cross_entropy(model(images), labels).item() != loss.item()
