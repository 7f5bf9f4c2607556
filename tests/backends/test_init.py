"""Emitted modules start with torchvision's weights: under one `torch.manual_seed`, the same initialisers
draw the same numbers in the same order, so the state_dicts are equal, tensor for tensor.

The spec states the initialisation (its `init` section, usually in the family); nothing here tells
the code generator which model it builds. Constructing the VGGs twice costs seconds of random draws
(over 100 M parameters each), so for networks that large the test compares the sequence of initialiser
calls (function, tensor shape, arguments), which fixes every draw, and compares the weights themselves
only with ARCHSPEC_LONG=1. The detectors built of torchvision's pieces (the FPN backbones, the RPN and
Faster R-CNN) are compared where their pairs are built anyway: test_decoders.py and test_faster_rcnn.py, and
SSD300, whose spec states torchvision's construction order (`init: order`), in test_detectors.py.
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
        assert constructed_then_initialised(ours) == constructed_then_initialised(reference), (
            f"{name}: the emitted module initialises differently from torchvision")
        return
    torch.manual_seed(0)
    ours = ours_factory().state_dict()
    torch.manual_seed(0)
    reference = reference_factory().state_dict()
    assert list(ours) == list(reference)
    different = [key for key in ours if not torch.equal(ours[key], reference[key])]
    assert not different, f"{name}: initial tensors differ from torchvision's: {different[:5]}"


# What the modules' constructors call (reset_parameters), before the spec's own initialisation runs.
CONSTRUCTION = {"kaiming_uniform_", "uniform_", "ones_", "zeros_"}


def constructed_then_initialised(calls: list[tuple]) -> tuple[list[str], list[tuple]]:
    """The constructors' calls as a multiset, then the initialisation's in order. torchvision's
    _make_layer builds a block's shortcut before the block, an emitted block after its convolutions: the
    constructors draw in another order, the same numbers in all, and the initialisation redraws every
    tensor they drew for but the last layer's, whose draws come at the same place of the stream."""
    start = next((i for i, call in enumerate(calls) if call[0] not in CONSTRUCTION), len(calls))
    return sorted(map(repr, calls[:start])), calls[start:]


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


SCOPED = """archspec: 1
name: scoped
input: [3, 8, 8]
blocks:
  heads:
    init:
      conv: {weight: {normal: {std: 0.01}}, bias: 0}
      parts: {levels.1: {bias: 1}}
    body:
      - conv: {name: levels.0, out: 2, kernel: 1}
      - conv: {name: levels.1, from: input, out: 2, kernel: 1}
    outputs: [levels.0, levels.1]
body:
  - group:
      name: trunk
      init:
        conv: {weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}}
        linear: {weight: {normal: {std: 0.01}}, bias: 0}
        dropped: [linear: {in: 4, out: 10}]
      body:
        - conv: {name: stem, out: 4, kernel: 3, padding: 1, bias: false}
        - relu
  - heads: {name: head}
init:
  parts: {head.levels.0: {weight: ones}}
"""


class ScopedReference(torch.nn.Module):
    """SCOPED written out in torchvision's manner: each component initialises itself when built, the trunk
    as a whole classifier whose head `fc` it drops."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = torch.nn.Module()
        self.trunk.stem = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        fc = torch.nn.Linear(4, 10)
        torch.nn.init.kaiming_normal_(self.trunk.stem.weight, mode="fan_out", nonlinearity="relu")
        torch.nn.init.normal_(fc.weight, std=0.01)
        self.head = torch.nn.Module()
        self.head.levels = torch.nn.ModuleList([torch.nn.Conv2d(4, 2, 1), torch.nn.Conv2d(4, 2, 1)])
        for conv in self.head.levels:
            torch.nn.init.normal_(conv.weight, std=0.01)
            torch.nn.init.constant_(conv.bias, 0)
        torch.nn.init.constant_(self.head.levels[1].bias, 1)
        torch.nn.init.ones_(self.head.levels[0].weight)


def test_group_and_block_init_run_in_their_constructors(tmp_path) -> None:
    """A group's and a block's `init` run when they are built, a dropped layer draws and is gone, and part
    names with dots of their own (`levels.1`, a member of a module list) are found."""
    (tmp_path / "scoped.yaml").write_text(SCOPED)
    source = emit_pytorch(compile_spec(tmp_path / "scoped.yaml"))
    assert "dropped = [nn.Linear(4, 10)]" in source and "nn.init.constant_(self.levels[1].bias, 1)" in source
    (tmp_path / "scoped.py").write_text(source)
    factory = import_file(tmp_path / "scoped.py", "scoped_init").scoped
    torch.manual_seed(3)
    ours = factory().state_dict()
    torch.manual_seed(3)
    reference = ScopedReference().state_dict()
    assert list(ours) == list(reference)
    assert all(torch.equal(ours[key], reference[key]) for key in reference)


ORDERED = """archspec: 1
name: ordered
input: [3, 8, 8]
init:
  order:
    - build: [stem, tower]
      conv: {weight: {kaiming_normal: {mode: fan_out, nonlinearity: relu}}, bias: 0}
      dropped: [linear: {in: 4, out: 10}]
    - build: [side]
      conv: {weight: {normal: {std: 0.01}}, bias: 0}
    - build: [tower.1]
      conv: {weight: xavier_uniform, bias: 0}
body:
  - conv: {name: stem, out: 4, kernel: 3, padding: 1}
  - seq: {name: tower, body: [conv: {out: 4, kernel: 1}, conv: {out: 4, kernel: 1}, relu, conv: {out: 4, kernel: 1}]}
  - conv: {name: side, out: 2, kernel: 1}
"""


class OrderedReference(torch.nn.Module):
    """ORDERED written out in torchvision's manner: the tower's second conv is built, and initialised, only
    after `side`, though the tower comes first in the module."""

    def __init__(self) -> None:
        super().__init__()
        stem = torch.nn.Conv2d(3, 4, 3, padding=1)
        first, rest = torch.nn.Conv2d(4, 4, 1), [torch.nn.ReLU(inplace=False), torch.nn.Conv2d(4, 4, 1)]
        torch.nn.Linear(4, 10)  # dropped: its draws only
        for conv in (stem, first, rest[1]):
            torch.nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.constant_(conv.bias, 0)
        side = torch.nn.Conv2d(4, 2, 1)
        torch.nn.init.normal_(side.weight, std=0.01)
        torch.nn.init.constant_(side.bias, 0)
        second = torch.nn.Conv2d(4, 4, 1)
        torch.nn.init.xavier_uniform_(second.weight)
        torch.nn.init.constant_(second.bias, 0)
        self.stem, self.tower, self.side = stem, torch.nn.Sequential(first, second, *rest), side


def test_construction_order_of_the_spec(tmp_path) -> None:
    """`init: order` builds and initialises step by step; the attributes, and the state_dict, keep the layer order,
    with a member built apart from its sequence back in its place."""
    (tmp_path / "ordered.yaml").write_text(ORDERED)
    source = emit_pytorch(compile_spec(tmp_path / "ordered.yaml"))
    assert "self.tower = nn.Sequential(*tower[:1], tower_1, *tower[1:])" in source
    (tmp_path / "ordered.py").write_text(source)
    factory = import_file(tmp_path / "ordered.py", "ordered_init").ordered
    torch.manual_seed(5)
    ours = factory().state_dict()
    torch.manual_seed(5)
    reference = OrderedReference().state_dict()
    assert list(ours) == list(reference)
    assert all(torch.equal(ours[key], reference[key]) for key in reference)
