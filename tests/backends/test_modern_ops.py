"""The ops of the CNNs since 2017 (SiLU to stochastic depth), checked in the emitted module against torch and
torchvision: the modules and state_dict keys torchvision uses, the same outputs, MACs equal to
FlopCounterMode's, receptive fields equal to gradients, and a module that scripts and traces."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost

from ..conftest import import_file

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
from torch import nn  # noqa: E402
from torchvision.models.convnext import LayerNorm2d  # noqa: E402
from torchvision.models.shufflenetv2 import channel_shuffle  # noqa: E402
from torchvision.ops import FrozenBatchNorm2d, SqueezeExcitation, StochasticDepth  # noqa: E402
from torchvision.ops.misc import Permute  # noqa: E402

SPECS = Path(__file__).parent / "specs"


def emitted(name: str, tmp_path: Path, text: str | None = None):
    """(network, module) built from tests/backends/specs/<name>.yaml, or from `text`."""
    from archspec.backends.pytorch import emit_pytorch

    path = SPECS / f"{name}.yaml"
    if text is not None:
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
    network = compile_spec(path)
    target = tmp_path / f"{name}_emitted.py"
    target.write_text(emit_pytorch(network))
    return network, getattr(import_file(target, f"{name}_emitted"), network.name)()


class Reference(nn.Module):
    """tests/backends/specs/modern_ops.yaml written by hand with torch's and torchvision's modules."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.stem_bn = FrozenBatchNorm2d(16)
        self.act = nn.SiLU()
        self.branch = nn.Conv2d(12, 12, 3, padding=1)
        self.branch_act = nn.Hardswish()
        self.squeeze = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(16, 4, 1)
        self.fc1_act = nn.ReLU()
        self.fc2 = nn.Conv2d(4, 16, 1)
        self.gate = nn.Hardsigmoid()
        self.norm = LayerNorm2d(16, eps=1e-6)
        self.to_last = Permute([0, 2, 3, 1])
        self.norm_last = nn.LayerNorm(16, eps=1e-6)
        self.mlp1 = nn.Linear(16, 32)
        self.mlp_act = nn.GELU()
        self.mlp2 = nn.Linear(32, 16)
        self.to_first = Permute([0, 3, 1, 2])
        self.layer_scale = nn.Parameter(torch.ones(16, 1, 1) * 1e-6)  # as torchvision's CNBlock holds it
        self.drop = StochasticDepth(0.5, "row")
        self.unshuffle = nn.PixelUnshuffle(2)
        self.mish = nn.Mish()
        self.shuffle_up = nn.PixelShuffle(2)
        self.scale_weight = nn.Parameter(torch.ones(16) * 20)  # as torchvision's SSD holds conv4_3's scale
        self.head = nn.Conv2d(8, 10, 1)
        self.probs = nn.Softmax(dim=1)

    def forward(self, x):
        x = self.act(self.stem_bn(self.stem(x)))
        first, second = x.split([4, 12], 1)
        shuffled = channel_shuffle(torch.cat([first, self.branch_act(self.branch(second))], 1), 2)
        gate = self.gate(self.fc2(self.fc1_act(self.fc1(self.squeeze(shuffled)))))
        gated = gate * shuffled + gate
        x = self.to_first(self.mlp2(self.mlp_act(self.mlp1(self.norm_last(self.to_last(self.norm(gated)))))))
        x = self.drop(self.layer_scale * x) + gated
        x = self.shuffle_up(self.mish(self.unshuffle(x)))
        x = self.scale_weight.view(1, -1, 1, 1) * nn.functional.normalize(x)
        x = sum(x.chunk(2, 1))
        return self.probs(self.head(x))


def randomised(module: nn.Module) -> nn.Module:
    """Every parameter and buffer drawn at random (positive where a variance), so that no output is trivial."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                tensor.copy_(torch.rand_like(tensor) + 0.5 if "var" in name else torch.randn_like(tensor))
    return module


def assert_loads_and_agrees(ours: nn.Module, reference: nn.Module, images, tolerance: float = 1e-6) -> None:
    """The same state_dict keys and shapes, in order; with the reference's weights, the same outputs."""
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in reference.state_dict().items()]
    ours.load_state_dict(reference.state_dict())
    with torch.no_grad():
        assert (ours(images) - reference(images)).abs().max().item() <= tolerance


def test_every_op_matches_torch_and_torchvision(tmp_path: Path) -> None:
    network, ours = emitted("modern_ops", tmp_path)
    reference = randomised(Reference())
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours_state.items()] == [
        (k, tuple(v.shape)) for k, v in reference_state.items()]
    ours.load_state_dict(reference_state)
    images = torch.randn(2, 8, 16, 16)
    ours.eval(), reference.eval()
    with torch.no_grad():
        assert (ours(images) - reference(images)).abs().max().item() <= 1e-5
    # In training, stochastic depth drops the same rows as torchvision's for the same random stream.
    ours.train(), reference.train()
    with torch.no_grad():
        torch.manual_seed(1)
        trained = ours(images)
        torch.manual_seed(1)
        assert (trained - reference(images)).abs().max().item() <= 1e-5
    cost = analyse_cost(network)
    assert cost.total.params == sum(p.numel() for p in reference.parameters())
    assert cost.total.buffers == sum(b.numel() for b in reference.buffers())


def test_a_frozen_batch_norm_loads_a_batch_norms_state_dict(tmp_path: Path) -> None:
    """torchvision's detection backbones load ImageNet BatchNorm2d weights into FrozenBatchNorm2d."""
    _, ours = emitted("frozen", tmp_path, "archspec: 1\ninput: [3, 8, 8]\nbody:\n  - frozen_bn: {name: bn}\n")
    trained = randomised(nn.BatchNorm2d(3)).eval()
    ours.load_state_dict({f"bn.{k}": v for k, v in trained.state_dict().items()})
    images = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert (ours(images) - trained(images)).abs().max().item() <= 1e-6


@pytest.mark.parametrize("size", [16, 24, 40])
def test_macs_equal_flop_counter(tmp_path: Path, size: int) -> None:
    """Linear layers over channels-last maps included (FlopCounterMode counts their matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    network, model = emitted("modern_ops", tmp_path)
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model.eval()(torch.randn(1, 8, size, size))
    assert analyse_cost(network, (8, size, size)).total.flops == counter.get_total_flops() > 0


def test_scripts_and_traces(tmp_path: Path) -> None:
    _, model = emitted("modern_ops", tmp_path)
    model.eval()
    images = torch.randn(1, 8, 16, 16)
    expected = model(images)
    exported = torch.export.export(model, (images,)).module()
    for compiled in (torch.jit.script(model), torch.fx.symbolic_trace(model), exported):
        assert torch.allclose(compiled(images), expected, atol=1e-6)


SQUEEZE_EXCITATION = """\
archspec: 1
input: [16, 8, 8]
blocks:
  se:
    class: SqueezeExcitation
    params: {squeeze_channels: int}
    body:
      - adaptive_avgpool: {name: avgpool, size: 1}
      - conv: {name: fc1, out: squeeze_channels, kernel: 1}
      - relu: {name: activation}
      - conv: {name: fc2, out: in_channels, kernel: 1}
      - hardsigmoid: {name: scale_activation}
      - mul: {from: [scale_activation, input]}
body:
  - se: {name: se1, squeeze_channels: 4}
  - se: {name: se2, squeeze_channels: 8}
"""


def test_squeeze_excitation_block_matches_torchvision(tmp_path: Path) -> None:
    """A block class with a broadcast product, as torchvision.ops.SqueezeExcitation (MobileNetV3's)."""
    _, ours = emitted("se", tmp_path, SQUEEZE_EXCITATION)
    reference = nn.Sequential()
    for name, squeeze in (("se1", 4), ("se2", 8)):
        reference.add_module(name, SqueezeExcitation(16, squeeze, scale_activation=nn.Hardsigmoid))
    assert_loads_and_agrees(ours, randomised(reference), torch.randn(2, 16, 8, 8))


def test_convnext_block_class_matches_torchvision(tmp_path: Path) -> None:
    """A block holding a bare layer-scale parameter, channels-last layers in an nn.Sequential and stochastic
    depth: one class, keys and outputs as torchvision's CNBlock, in eval and (same random stream) in training."""
    from torchvision.models.convnext import CNBlock

    _, ours = emitted("cn_blocks", tmp_path)
    reference = nn.Sequential()
    reference.add_module("first", CNBlock(16, 1e-6, 0.0))
    reference.add_module("second", CNBlock(16, 1e-6, 0.1))
    reference.add_module("conv1", nn.Conv2d(16, 32, 2, 2))
    reference.add_module("third", CNBlock(32, 1e-6, 0.2))
    images = torch.randn(4, 16, 14, 14)
    assert_loads_and_agrees(ours.eval(), randomised(reference).eval(), images, 1e-5)
    for training in (False, True):
        ours.train(training), reference.train(training)
        with torch.no_grad():
            torch.manual_seed(2)
            result = ours(images)
            torch.manual_seed(2)
            assert (result - reference(images)).abs().max().item() <= 1e-5
    assert type(ours.first) is type(ours.third)  # one class, built with each block's parameters


CSP = """\
archspec: 1
input: [16, 8, 8]
blocks:
  csp:
    class: CSP
    params: {hidden: int}
    body:
      - conv: {name: cv1, out: 2 * hidden, kernel: 1}
      - split: {name: parts, sizes: [hidden, hidden]}
      - conv: {name: m, from: parts.1, out: hidden, kernel: 3, padding: 1}
      - concat: {from: [parts.0, m]}
      - conv: {name: cv2, out: in_channels, kernel: 1}
body:
  - csp: {name: a, hidden: 8}
  - csp: {name: b, hidden: 4}
"""


def test_a_split_inside_a_block_class(tmp_path: Path) -> None:
    """The pieces of a split have channels that are expressions of the block's parameters, so one class
    serves both instances (a CSP block: half the channels bypass the convolution)."""

    class Reference(nn.Module):
        def __init__(self, channels: int, hidden: int) -> None:
            super().__init__()
            self.hidden = hidden
            self.cv1 = nn.Conv2d(channels, 2 * hidden, 1)
            self.m = nn.Conv2d(hidden, hidden, 3, padding=1)
            self.cv2 = nn.Conv2d(2 * hidden, channels, 1)

        def forward(self, x):
            bypass, through = self.cv1(x).split([self.hidden, self.hidden], 1)
            return self.cv2(torch.cat([bypass, self.m(through)], 1))

    network, ours = emitted("csp", tmp_path, CSP)
    reference = nn.Sequential()
    reference.add_module("a", Reference(16, 8))
    reference.add_module("b", Reference(16, 4))
    assert_loads_and_agrees(ours, randomised(reference), torch.randn(2, 16, 8, 8))
    assert type(ours.a) is type(ours.b)
    assert (tmp_path / "csp_emitted.py").read_text().count("class CSP(") == 1


def test_a_seq_member_may_have_a_key_that_is_no_identifier(tmp_path: Path) -> None:
    """torchvision's RegNet keys its blocks `trunk_output.block1.block1-0`: inside a seq a name is only a key
    of the nn.Sequential, so a dash is allowed there (and still refused where the name is an attribute)."""
    from archspec.errors import SpecError

    _, model = emitted("sequence_keys", tmp_path)
    assert list(model.state_dict())[0] == "trunk_output.block1.block1-0.conv.weight"
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 8, 16, 16)
    with pytest.raises(SpecError, match="'block-0' is not a valid Python identifier"):
        emitted("attribute", tmp_path, "archspec: 1\ninput: [3, 8, 8]\nbody:\n  - relu: {name: block-0}\n")
