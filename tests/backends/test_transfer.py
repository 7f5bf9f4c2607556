"""The fine-tuning methods of an emitted module: load_pretrained, freezing, batch norm kept frozen,
param_groups; and that such a module still scripts and traces."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from archspec.backends.pytorch import emit_pytorch  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402

from ..conftest import SPECS, import_file  # noqa: E402

VARIANT = """archspec: 1
extends: resnet18.yaml
name: resnet18_finetune
input: [3, 32, 32]
params: {num_classes: 10}
transfer:
  replace: [fc]
  freeze: [conv1, bn1, layer1]
  bn: BN
  lr_mult: {layer2: 0.5, layer3: 0.1, layer3.1: 0.2}
"""


def finetune_module(tmp_path, bn: str = "frozen"):
    spec = tmp_path / "resnet18_finetune.yaml"
    spec.write_text(VARIANT.replace("BN", bn))
    path = tmp_path / f"resnet18_finetune_{bn}.py"
    path.write_text(emit_pytorch(compile_spec(spec, spec_path=(SPECS / "resnet",))))
    return import_file(path, f"resnet18_finetune_{bn}").resnet18_finetune()


def test_load_pretrained_reports_loaded_and_skipped(tmp_path) -> None:
    reference = torchvision.models.resnet18()
    torch.save(reference.state_dict(), tmp_path / "weights.pth")
    model = finetune_module(tmp_path)
    loaded, skipped = model.load_pretrained(str(tmp_path / "weights.pth"))
    assert skipped == ["fc.weight", "fc.bias"]
    assert set(loaded) == set(reference.state_dict()) - {"fc.weight", "fc.bias"}
    for key in loaded:
        assert torch.equal(model.state_dict()[key], reference.state_dict()[key]), key
    # A checkpoint of `archspec train` holds the state under "model".
    torch.save({"model": reference.state_dict(), "epoch": 3}, tmp_path / "checkpoint.pt")
    assert model.load_pretrained(str(tmp_path / "checkpoint.pt"))[1] == ["fc.weight", "fc.bias"]


def test_load_pretrained_lists_every_mismatch(tmp_path) -> None:
    state = torchvision.models.resnet34().state_dict()  # three more blocks in layer1, and so on
    torch.save(state, tmp_path / "resnet34.pth")
    with pytest.raises(ValueError) as caught:
        finetune_module(tmp_path).load_pretrained(str(tmp_path / "resnet34.pth"))
    message = str(caught.value)
    assert "layer1.2.conv1.weight: the file has [64, 64, 3, 3], the model has no such tensor" in message
    state = torchvision.models.resnet18().state_dict()
    state["layer2.0.conv1.weight"] = torch.zeros(128, 64, 1, 1)
    del state["layer4.1.bn2.bias"]
    torch.save(state, tmp_path / "edited.pth")
    with pytest.raises(ValueError) as caught:
        finetune_module(tmp_path).load_pretrained(str(tmp_path / "edited.pth"))
    assert str(caught.value).splitlines() == [
        "2 tensors do not match the model:",
        "  layer2.0.conv1.weight: the file has [128, 64, 1, 1], the model [128, 64, 3, 3]",
        "  layer4.1.bn2.bias: missing from the file (the model has [512])"]


def test_frozen_parts_and_batch_norm(tmp_path) -> None:
    model = finetune_module(tmp_path)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert all(name.startswith(("conv1", "bn1", "layer1")) or ".bn" in name or "downsample.1" in name
               for name in frozen)
    assert "layer1.0.conv1.weight" in frozen and "layer2.0.bn1.weight" in frozen
    assert "layer2.0.conv1.weight" not in frozen
    model.train()
    assert model.training and model.layer3.training
    assert not any(m.training for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    eval_mode = finetune_module(tmp_path, bn="eval")
    eval_mode.train()
    assert not eval_mode.layer2[0].bn1.training and eval_mode.layer2[0].bn1.weight.requires_grad


def test_param_groups(tmp_path) -> None:
    model = finetune_module(tmp_path)
    groups = model.param_groups(0.1)
    by_mult = {group["lr_mult"]: group for group in groups}
    assert set(by_mult) == {0.5, 0.1, 0.2, 1.0}
    assert by_mult[0.5]["lr"] == pytest.approx(0.05)
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)].split(".")[0] for p in by_mult[1.0]["params"]} == {"layer4", "fc"}
    assert all(names[id(p)].startswith("layer3.1.") for p in by_mult[0.2]["params"])  # the longest part wins
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {names[id(p)] for g in groups for p in g["params"]} == trainable


def test_finetune_module_scripts_and_traces(tmp_path) -> None:
    model = finetune_module(tmp_path).eval()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        expected = model(images)
        assert torch.allclose(torch.jit.script(model)(images), expected)
        assert torch.allclose(torch.jit.trace(model, images)(images), expected)


def test_shipped_finetune_spec() -> None:
    network = compile_spec(SPECS / "resnet" / "resnet50_finetune.yaml")
    transfer = network.transfer
    assert transfer.replace == ["fc"] and transfer.freeze == ["conv1", "bn1", "layer1", "layer2"]
    assert transfer.bn == "frozen" and transfer.lr_mult == {"layer3": 0.1, "layer4": 0.1}
    assert transfer.pretrained.endswith("resnet50_imagenet.pth")
    assert network.root.node("fc").attrs["out"] == 10
