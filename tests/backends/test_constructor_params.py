"""The network class takes the spec's parameters that change nothing but the layers reading them, with their
defaults, as torchvision's constructors take num_classes and dropout; factories pass keyword arguments on."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import SPECS, import_file

torch = pytest.importorskip("torch")


def factory(path: Path, tmp_path: Path):
    network = compile_spec(path)
    target = tmp_path / f"{network.name}_params.py"
    target.write_text(emit_pytorch(network))
    return network, getattr(import_file(target, f"{network.name}_params"), network.name)


@pytest.mark.parametrize("spec,expected", [
    ("resnet/resnet50.yaml", {"num_classes": 1000}),
    ("vgg/vgg11.yaml", {"num_classes": 1000, "dropout": 0.5}),
    ("alexnet/alexnet.yaml", {"num_classes": 1000, "dropout": 0.5}),
    ("unet/unet_same.yaml", {"classes": 2}),  # depth and width shape every level: the spec's, not arguments
    ("autoencoder/autoencoder.yaml", {}),  # the code size sets the decoder's input features
])
def test_exposed_parameters(spec: str, expected: dict) -> None:
    assert compile_spec(SPECS / spec).params == expected


def test_resnet50_takes_num_classes(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    _, resnet50 = factory(SPECS / "resnet" / "resnet50.yaml", tmp_path)
    model = resnet50(num_classes=10)
    reference = torchvision.models.resnet50(num_classes=10)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in
                                                                  reference.state_dict().items()}
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    with pytest.raises(TypeError):
        resnet50(layers=[2, 2, 2, 2])  # a structural parameter is the spec's: a variant changes it


def test_vgg_takes_torchvision_arguments(tmp_path: Path) -> None:
    _, vgg11 = factory(SPECS / "vgg" / "vgg11.yaml", tmp_path)
    model = vgg11(num_classes=7, dropout=0.25)
    dropouts = [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.25, 0.25] and model.classifier[-1].out_features == 7


def test_a_parameter_read_in_a_condition_or_before_inferred_layers_stays_fixed(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("""archspec: 1
name: net
input: [3, 16, 16]
params: {width: 8, classes: 3, slope: 0.1, extra: true, hidden: 5}
body:
  - conv: {name: conv, out: width, kernel: 3}
  - leaky_relu: {slope: slope}
  - bn: {name: bn, if: extra}
  - adaptive_avgpool: {name: pool, size: 1}
  - flatten
  - linear: {name: fc1, out: hidden}
  - linear: {name: fc2, out: classes}
""")
    network, net = factory(path, tmp_path)
    assert network.params == {"classes": 3, "slope": 0.1}
    model = net(classes=4, slope=0.2)
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 4)
