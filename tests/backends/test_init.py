"""Emitted modules start with torchvision's weights: under one `torch.manual_seed`, the same initialisers
draw the same numbers in the same order, so the state_dicts are equal, tensor for tensor.

The spec states the initialisation (its `init` section, usually in the family); nothing here tells
the code generator which model it builds. Constructing the VGGs twice costs seconds of random draws
(over 100 M parameters each), so for networks that large the test compares the sequence of initialiser
calls (function, tensor shape, arguments), which fixes every draw, and compares the weights themselves
only with ARCHSPEC_LONG=1.
"""

from __future__ import annotations

import inspect
import os

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")

from archspec.backends.pytorch import emit_pytorch  # noqa: E402
from archspec.compiler import compile_spec  # noqa: E402

from ..conftest import import_file, shipped_specs  # noqa: E402

TORCHVISION = set(torchvision.models.list_models(module=torchvision.models))
NAMES = [name for name in shipped_specs() if name in TORCHVISION]
LONG = os.environ.get("ARCHSPEC_LONG") == "1"
LARGE = 100_000_000  # parameters above which the calls, not the weights, are compared


def test_every_torchvision_model_is_covered() -> None:
    assert {"alexnet", "vgg11", "vgg19_bn", "resnet18", "resnet152"} <= set(NAMES)


def emitted_factory(name: str, tmp_path):
    path = tmp_path / f"{name}_init.py"
    path.write_text(emit_pytorch(compile_spec(shipped_specs()[name])))
    return getattr(import_file(path, f"{name}_init"), name)


class InitCalls:
    """Replaces torch.nn.init's initialisers by a recorder: (function, shape, arguments) of each call."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple] = []
        for name in dir(torch.nn.init):
            if name.endswith("_") and not name.startswith("_") and callable(getattr(torch.nn.init, name)):
                monkeypatch.setattr(torch.nn.init, name, self.recorder(name))

    def recorder(self, name):
        signature = inspect.signature(getattr(torch.nn.init, name))

        def record(tensor, *args, **kwargs):
            bound = signature.bind(tensor, *args, **kwargs)  # normal_(w, 0, 0.01) is normal_(w, mean=0, std=0.01)
            bound.apply_defaults()
            arguments = tuple((key, value) for key, value in bound.arguments.items() if key != "tensor")
            self.calls.append((name, tuple(tensor.shape), arguments))
            return tensor
        return record

    def of(self, factory) -> list[tuple]:
        self.calls = []
        factory()
        return self.calls


@pytest.mark.parametrize("name", NAMES)
def test_initial_weights_equal_torchvision(name: str, tmp_path, monkeypatch) -> None:
    ours_factory = emitted_factory(name, tmp_path)
    reference_factory = getattr(torchvision.models, name)
    if sum(p.numel() for p in ours_meta(ours_factory).parameters()) > LARGE and not LONG:
        calls = InitCalls(monkeypatch)
        ours, reference = calls.of(ours_factory), calls.of(reference_factory)
        assert len(ours) > 0
        assert ours == reference, f"{name}: the emitted module initialises differently from torchvision"
        return
    torch.manual_seed(0)
    ours = ours_factory().state_dict()
    torch.manual_seed(0)
    reference = reference_factory().state_dict()
    assert list(ours) == list(reference)
    different = [key for key in ours if not torch.equal(ours[key], reference[key])]
    assert not different, f"{name}: initial tensors differ from torchvision's: {different[:5]}"


def ours_meta(factory):
    """The module built on the meta device: its parameter count without allocating or drawing."""
    with torch.device("meta"):
        return factory()


def test_zero_init_residual_matches_torchvision(tmp_path) -> None:
    """The family's option: the last batch norm of each residual branch starts at zero."""
    spec = tmp_path / "resnet18_zero.yaml"
    spec.write_text("archspec: 1\nextends: resnet18.yaml\nname: resnet18_zero\nparams: {zero_init_residual: true}\n")
    network = compile_spec(spec, spec_path=(shipped_specs()["resnet18"].parent,))
    path = tmp_path / "resnet18_zero.py"
    path.write_text(emit_pytorch(network))
    torch.manual_seed(1)
    ours = import_file(path, "resnet18_zero").resnet18_zero().state_dict()
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(zero_init_residual=True).state_dict()
    assert all(torch.equal(ours[key], reference[key]) for key in reference)
    assert ours["layer1.0.bn2.weight"].abs().sum() == 0


MIXED = """archspec: 1
name: mixed
input: [3, 8, 8]
init:
  conv: {weight: {kaiming_uniform: {a: 1}}, bias: 0.5}
  parts:
    head: {weight: {constant: {val: 0.25}}, bias: zeros}
    layer.1: {weight: ones}
body:
  - conv: {name: stem, out: 4, kernel: 3, padding: 1, bias: false}
  - seq: {name: layer, body: [conv: {out: 4, kernel: 1}, conv: {out: 4, kernel: 1}]}
  - adaptive_avgpool: {size: 1}
  - flatten
  - linear: {name: head, out: 3}
"""


def test_init_rules_of_kinds_and_parts(tmp_path) -> None:
    """A bias some convs lack is guarded; part rules reach network paths and members of a sequence."""
    (tmp_path / "mixed.yaml").write_text(MIXED)
    source = emit_pytorch(compile_spec(tmp_path / "mixed.yaml"))
    assert "if m.bias is not None:" in source and "nn.init.kaiming_uniform_(m.weight, a=1)" in source
    assert "nn.init.constant_(self.head.weight, 0.25)" in source and "nn.init.ones_(self.layer[1].weight)" in source
    (tmp_path / "mixed.py").write_text(source)
    model = import_file(tmp_path / "mixed.py", "mixed_init").mixed()
    assert model.stem.bias is None and torch.all(model.layer[0].bias == 0.5)
    assert torch.all(model.layer[1].weight == 1) and torch.all(model.layer[1].bias == 0.5)
    assert torch.all(model.head.weight == 0.25) and torch.all(model.head.bias == 0)
    torch.jit.script(model)
