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
    # Frozen batch norm keeps no batch counter: BatchNorm2d's num_batches_tracked has nowhere to go.
    counters = {key for key in reference.state_dict() if key.endswith("num_batches_tracked")}
    assert counters and set(loaded) == set(reference.state_dict()) - {"fc.weight", "fc.bias"} - counters
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


def test_frozen_parts(tmp_path) -> None:
    model = finetune_module(tmp_path)
    frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    assert all(name.startswith(("conv1", "layer1")) for name in frozen)
    assert "layer1.0.conv1.weight" in frozen and "layer2.0.conv1.weight" not in frozen


def test_frozen_batch_norm_is_torchvisions_frozen_batch_norm(tmp_path) -> None:
    """`bn: frozen` builds FrozenBatchNorm2d: the state_dict of torchvision's ResNet built with
    torchvision.ops.FrozenBatchNorm2d, nothing trainable in it, statistics that training leaves alone,
    and the same outputs from the same (BatchNorm2d) weights."""
    from torchvision.ops import FrozenBatchNorm2d

    model = finetune_module(tmp_path)
    torch.manual_seed(0)
    weights = torchvision.models.resnet18(num_classes=10).state_dict()  # BatchNorm2d's, batch counters included
    for key in weights:
        if "running_" in key or key.endswith(("bn1.weight", "bn2.bias")):
            weights[key].uniform_(0.5, 1.5)  # statistics and affines that are not the identity
    reference = torchvision.models.resnet18(num_classes=10, norm_layer=FrozenBatchNorm2d)
    reference.load_state_dict(weights)
    model.load_state_dict(weights)  # strict: the batch counters are dropped as torchvision's are
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == \
           {k: list(v.shape) for k, v in reference.state_dict().items()}
    norms = [m for m in model.modules() if type(m).__name__ == "FrozenBatchNorm2d"]
    assert len(norms) == 20 and not any(list(m.parameters()) for m in norms)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    images = torch.randn(2, 3, 32, 32)
    model.train(), reference.train()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
    assert torch.allclose(model(images), reference(images), atol=1e-5)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())


def test_frozen_batch_norm_without_affine_is_a_located_error(tmp_path) -> None:
    from archspec.errors import SpecError

    spec = tmp_path / "resnet18_finetune.yaml"
    spec.write_text(VARIANT.replace("BN", "frozen") + "defaults:\n  bn: {affine: false}\n")
    with pytest.raises(SpecError) as caught:
        compile_spec(spec, spec_path=(SPECS / "resnet",))
    (problem,) = caught.value.diagnostics
    assert (problem.span.line, problem.span.column) == (12, 16) and "with `bn: eval` instead" in problem.hint
    assert problem.message.endswith("always has a scale and a shift; this one is `affine: false`")


def test_batch_norm_kept_in_eval_mode(tmp_path) -> None:
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
