"""Static analysis is exact: checked against FlopCounterMode, parameter counts and measured receptive fields."""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.cost import analyse_cost
from archspec.passes.receptive_field import receptive_fields

from .conftest import ROOT, import_file, shipped_specs

SIZES = [(224, 224), (320, 256), (640, 480)]
# Variants whose every layer kind the 50-layer ones already have (grouped and widened bottlenecks): checked
# in the long profile only, to keep the suite's time.
LONG_ONLY = set() if os.environ.get("ARCHSPEC_LONG") == "1" else {"resnext101_32x8d", "wide_resnet101_2"}
ANALYSED = sorted(set(shipped_specs()) - LONG_ONLY)


def emitted_model(name: str, path: Path, tmp_path: Path, device: str = "cpu"):
    import torch

    from archspec.backends.pytorch import emit_pytorch

    network = compile_spec(path)
    target = tmp_path / f"{name}_analysis.py"
    target.write_text(emit_pytorch(network))
    factory = getattr(import_file(target, f"{name}_analysis"), network.name)
    with torch.device(device):
        return network, factory()


@pytest.mark.parametrize("name", ANALYSED)
def test_macs_and_params_match_flop_counter(name: str, tmp_path: Path) -> None:
    """FlopCounterMode on the emitted module (meta tensors: nothing is computed) agrees exactly."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    network, model = emitted_model(name, shipped_specs()[name], tmp_path, device="meta")
    channels = network.input_shape[0]
    for height, width in accepted_near(network, SIZES):
        counter = FlopCounterMode(display=False)
        with counter:
            model(torch.empty(1, channels, height, width, device="meta"))
        report = analyse_cost(network, (channels, height, width))
        assert report.total.flops == counter.get_total_flops(), (name, height, width)
        assert report.total.macs * 2 == report.total.flops
    assert analyse_cost(network).total.params == sum(p.numel() for p in model.parameters())
    assert analyse_cost(network).total.buffers == sum(b.numel() for b in model.buffers())


def accepted_near(network, sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each size, or the nearest larger one the network takes (the original U-Net takes few); a network
    fixed to one input size (an autoencoder with linear layers) gets its own size."""
    from archspec.passes.shapes import accepts, nearest_accepted

    channels, found = network.input_shape[0], []
    for height, width in sizes:
        shape = (channels, height, width)
        if not accepts(network, shape):
            shape = nearest_accepted(network, shape)[1] or network.input_shape
        found.append(tuple(shape[1:]))
    return found


def spec_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("channels,size", [(64, 56), (128, 28), (32, 17)])
def test_bottleneck_arithmetic(tmp_path: Path, channels: int, size: int) -> None:
    """A bottleneck of inner width C costs 4HWC^2 + 9HWC^2 + 4HWC^2 = 17HWC^2; two 3x3 convs cost 18HWC^2."""
    c, hw = channels, size * size
    bottleneck = spec_file(tmp_path, f"""
input: [{4 * c}, {size}, {size}]
defaults: {{conv: {{bias: false}}}}
body:
  - conv: {{out: {c}, kernel: 1}}
  - conv: {{out: {c}, kernel: 3, padding: 1}}
  - conv: {{out: {4 * c}, kernel: 1}}
""")
    assert analyse_cost(compile_spec(bottleneck)).total.macs == 17 * hw * c * c
    basic = spec_file(tmp_path, f"""
input: [{c}, {size}, {size}]
defaults: {{conv: {{bias: false, kernel: 3, padding: 1, out: {c}}}}}
body: [conv, conv]
""")
    assert analyse_cost(compile_spec(basic)).total.macs == 18 * hw * c * c


@pytest.mark.parametrize("layers,kernel", [(1, 3), (2, 3), (3, 3), (5, 5), (4, 7)])
def test_stacked_convs_receptive_field(tmp_path: Path, layers: int, kernel: int) -> None:
    """L stacked FxF stride-1 convolutions see 1 + L(F - 1) pixels."""
    spec = spec_file(tmp_path, f"""
input: [1, 64, 64]
defaults: {{conv: {{out: 1, kernel: {kernel}, padding: {kernel // 2}}}}}
body: {['conv'] * layers}
""")
    report = receptive_fields(compile_spec(spec))
    last = report.order[-1]
    assert report.of(last).size == (1 + layers * (kernel - 1),) * 2
    assert report.of(last).stride == (Fraction(1), Fraction(1))


def test_paper_and_torchvision_resnet50_differ_where_the_stride_sits() -> None:
    """The paper's 3.8 GFLOPs and torchvision's 4.1: the v1.5 3x3 conv strides at the higher resolution."""
    v1 = analyse_cost(compile_spec(ROOT / "specs/resnet/resnet50_v1.yaml"))
    v15 = analyse_cost(compile_spec(ROOT / "specs/resnet/resnet50.yaml"))
    assert round(v1.total.macs / 1e9, 1) == 3.9 and round(v15.total.macs / 1e9, 2) == 4.09
    assert v1.total.params == v15.total.params
    differing = {n.block for n, m in zip(v1.nodes, v15.nodes) if n.cost.macs != m.cost.macs}
    assert differing == {"layer2.0", "layer3.0", "layer4.0"}


def test_unfit_input_size_is_a_located_error() -> None:
    network = compile_spec(ROOT / "specs/vgg/vgg11.yaml")
    with pytest.raises(SpecError) as error:
        analyse_cost(network, (3, 20, 20))
    first = error.value.diagnostics[0]
    assert first.span.file == "specs/vgg/vgg.yaml" or first.span.file.endswith("specs/vgg/vgg.yaml")
    assert "features." in first.message and "input 512x1x1" in first.message


def test_fully_connected_layer_fixed_to_its_input_size(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, """
input: [3, 32, 32]
body:
  - conv: {out: 8, kernel: 3, padding: 1}
  - flatten
  - linear: {name: fc, out: 10}
""")
    with pytest.raises(SpecError) as error:
        analyse_cost(compile_spec(spec), (3, 64, 64))
    assert "linear 'fc': expects 8192 input features, got 32768" in error.value.diagnostics[0].message


def test_huge_networks_are_counted_exactly_and_instantly(tmp_path: Path) -> None:
    """Exact integers, no tensors: a network of more than 10^12 parameters is analysed like any other."""
    spec = spec_file(tmp_path, """
input: [3, 8, 8]
body:
  - flatten
  - linear: {out: 1000000}
  - linear: {out: 1000000}
  - linear: {out: 10}
""")
    report = analyse_cost(compile_spec(spec))
    assert report.total.params == 192 * 10**6 + 10**6 + 10**12 + 10**6 + 10 * 10**6 + 10


# ---------------------------------------------------------------- receptive fields, measured


def _linearised(model):
    """The emitted module with every layer replaced by one that has the same geometry but is linear,
    positive and single-channel: ReLU -> identity, max-pool -> average pool, conv -> a 1-channel conv of
    ones on the channel sum, batch norm -> identity. Which input pixels reach an output does not depend on
    the number of channels, so the gradient's support is the receptive field, at a fraction of the cost."""
    import torch
    from torch import nn

    class SupportConv(nn.Module):
        def __init__(self, conv: nn.Conv2d):
            super().__init__()
            self.register_buffer("weight", torch.ones(1, 1, *conv.kernel_size, dtype=torch.float64))
            self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation

        def forward(self, x):
            return nn.functional.conv2d(x.sum(1, keepdim=True), self.weight, None, self.stride, self.padding,
                                        self.dilation)

    class IndexedAvgPool(nn.AvgPool2d):
        """Average pooling in place of a max-pool that also returns indices (which nothing linear uses)."""

        def forward(self, x):
            return super().forward(x), None

    class SupportConvTranspose(nn.Module):
        def __init__(self, conv: nn.ConvTranspose2d):
            super().__init__()
            self.register_buffer("weight", torch.ones(1, 1, *conv.kernel_size, dtype=torch.float64))
            self.stride, self.padding, self.dilation = conv.stride, conv.padding, conv.dilation
            self.output_padding = conv.output_padding

        def forward(self, x):
            return nn.functional.conv_transpose2d(x.sum(1, keepdim=True), self.weight, None, self.stride,
                                                  self.padding, self.output_padding, 1, self.dilation)

    class SupportLinear(nn.Module):
        """A linear layer over the channels of a channels-last map (or of a vector): their sum."""

        def forward(self, x):
            return x.sum(-1, keepdim=True)

    def replacement(module):
        if isinstance(module, nn.Linear):
            return SupportLinear()
        if isinstance(module, (nn.LayerNorm, nn.GELU, nn.Hardswish, nn.Hardsigmoid, nn.SiLU)):
            return nn.Identity()  # per pixel: its geometry is the identity's
        if isinstance(module, nn.Conv2d):
            return SupportConv(module)
        if isinstance(module, nn.ConvTranspose2d):
            return SupportConvTranspose(module)
        if isinstance(module, nn.MaxPool2d):
            assert module.dilation in (1, (1, 1))
            pool = IndexedAvgPool if module.return_indices else nn.AvgPool2d
            return pool(module.kernel_size, module.stride, module.padding, module.ceil_mode)
        if isinstance(module, (nn.BatchNorm2d, nn.ReLU, nn.Dropout)):
            return nn.Identity()
        return None

    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            new = replacement(child)
            if new is not None:
                setattr(parent, child_name, new)
        for name, parameter in list(parent.named_parameters(recurse=False)):
            # A bare per-channel scale (ConvNeXt's layer scale, [C, 1, 1]): one positive channel, as the rest.
            if parameter.dim() == 3 and parameter.shape[1:] == (1, 1):
                setattr(parent, name, nn.Parameter(torch.ones(1, 1, 1)))
    emitted = sys.modules[type(model).__module__]
    if hasattr(emitted, "F"):  # unpooling is a function there (F.max_unpool2d): the emitted file's F, replaced
        emitted.F = _SupportFunctional()
    return model.double().eval()


class _SupportFunctional:
    """torch.nn.functional, but unpooling spreads each value over its whole window: the union of where the
    maximum may have been (the linearised pools return no indices)."""

    def __getattr__(self, name: str):
        import torch

        return getattr(torch.nn.functional, name)

    @staticmethod
    def max_unpool2d(x, indices, kernel_size, stride=None, padding=0):
        import torch
        from torch import nn

        pair = nn.modules.utils._pair
        kernel = pair(kernel_size)
        weight = torch.ones(1, 1, *kernel, dtype=x.dtype)
        return nn.functional.conv_transpose2d(x.sum(1, keepdim=True), weight, None,
                                              pair(stride if stride is not None else kernel_size), pair(padding))


def _sees_whole_input(node) -> bool:
    from archspec.ops import OPS

    if node.child is not None:
        return any(_sees_whole_input(inner) for inner in node.child.nodes)
    return OPS[node.op].sees_whole_input(node.attrs)


def _stage_names(network) -> list[str]:
    """Every named top-level layer whose output is a feature map and whose field is a window; for a layer
    with several outputs (a feature pyramid), each of them as `layer.key`."""
    from archspec.ops import OPS

    names = []
    for node in network.root.nodes:
        if _sees_whole_input(node):
            break  # from here on every field is the whole input (and the linearised layers cannot run)
        if node.shares is not None:
            continue  # applies another layer's module again: no attribute of its own to hook
        if node.child is not None and len(node.child.outputs) > 1:
            names += [f"{node.name}.{key}" for key in node.child.output_names()]
            continue
        if node.shape is None or len(node.shape) != 3:
            continue
        if not node.is_call and (OPS[node.op].sees_whole_input(node.attrs) or not OPS[node.op].module):
            continue  # no module to hook (a merge, an unpooling written as a function)
        names.append(node.name)
    return names


@pytest.mark.parametrize("name", ANALYSED)
def test_receptive_fields_match_gradients(name: str, tmp_path: Path) -> None:
    """Back-propagate from the centre unit of every named stage; the non-zero input gradient spans exactly
    the analytic field, centred where the analysis says."""
    torch = pytest.importorskip("torch")
    network, model = emitted_model(name, shipped_specs()[name], tmp_path)
    model = _linearised(model)
    fields = receptive_fields(network)
    stages = _stage_names(network)
    if not stages:  # an autoencoder: its named stages come after a linear layer, which sees everything
        _, height, width = network.input_shape
        assert all(fields.of(n.name).size >= (height, width) for n in network.root.nodes if n.shape), name
        return
    largest = max(max(fields.of(s).size) for s in stages)
    side = -(-(largest + 64) // 32) * 32  # room on both sides so no border clips the centre unit's field
    side = accepted_near(network, [(side, side)])[0][0]
    channels = network.input_shape[0]
    at_size = receptive_fields(network, (channels, side, side))
    from archspec.passes.shapes import infer_shapes

    shapes = infer_shapes(network, (channels, side, side)).shapes
    outputs = {}

    class Enough(Exception):
        """Raised after the last stage: the single-channel layers cannot feed the classifier."""

    def keep(layer):
        def hook(module, inputs, output):
            # A module applied again with shared weights keeps the output of its first application.
            if isinstance(output, dict):  # several outputs: each is a stage of its own
                for key, value in output.items():
                    outputs.setdefault(f"{layer}.{key}", value)
            else:
                outputs.setdefault(layer, output[0] if isinstance(output, tuple) else output)  # a pool: indices
            if set(stages) <= set(outputs):
                raise Enough
        return hook

    for layer in dict.fromkeys(stage.split(".")[0] for stage in stages):
        getattr(model, layer).register_forward_hook(keep(layer))
    image = torch.ones(1, channels, side, side, dtype=torch.float64, requires_grad=True)
    with pytest.raises(Enough):
        model(image)
    for stage in stages:
        assert at_size.of(stage).size == fields.of(stage).size  # a window's field does not depend on the input size
    assert_fields_match({s: at_size.of(s) for s in stages}, outputs, image)


def assert_fields_match(fields: dict, outputs: dict, image) -> None:
    """For units around the centre of each output (a whole period of them when fields differ from unit to
    unit, as after upsampling), the input pixels with a non-zero gradient span exactly the analytic field."""
    import torch

    side = image.shape[-1]
    for name, field in fields.items():
        output = outputs[name]
        height, width = output.shape[-2:]
        for step in range(min(max(field.h.period, field.w.period), 4)):
            unit = (height // 2 + step, width // 2 + step)
            (gradient,) = torch.autograd.grad(output[0, :, unit[0], unit[1]].sum(), image, retain_graph=True)
            rows = gradient[0].abs().sum(dim=(0, 2)).nonzero().flatten()
            cols = gradient[0].abs().sum(dim=(0, 1)).nonzero().flatten()
            for axis, hits, index in ((field.h, rows, unit[0]), (field.w, cols, unit[1])):
                low, high = axis.span(index)
                assert 0 <= low and high <= side - 1, "the test input clips the field"
                assert (hits.min().item(), hits.max().item()) == (low, high), (name, unit)
