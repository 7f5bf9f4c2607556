"""Receptive fields through the ops of the CNNs since 2017, against gradients of the emitted modules: pixel
(un)shuffles, a split, a channel shuffle, channels-last layers and squeeze-and-excitation gates.

Here rather than with the backend's tests: autograd's worker threads, once started, would break the
fork-based multiprocessing of the training tests that run after tests/backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.passes.receptive_field import receptive_fields

from ..backends.test_modern_ops import emitted, randomised
from ..backends.test_modern_specs import emitted as emitted_spec

torch = pytest.importorskip("torch")
from torchvision.models.shufflenetv2 import channel_shuffle  # noqa: E402


def test_receptive_fields_match_gradients(tmp_path: Path) -> None:
    """Through pixel (un)shuffle, a split, a channel shuffle, channels-last layers and a broadcast gate (which
    makes the field the whole input), the input pixels reached from a unit are exactly its analytic field."""
    network, model = emitted("modern_fields", tmp_path)
    model = randomised(model).double().eval()
    fields = receptive_fields(network)
    image = torch.rand(1, 4, 32, 32, dtype=torch.float64, requires_grad=True)
    forward_values = _values(model, image)
    for name, output in forward_values.items():
        field = fields.of(name)
        if name == "pointwise":  # channels-last: (N, H, W, C)
            output = output.permute(0, 3, 1, 2)
        height, width = output.shape[-2:]
        for step in range(min(max(field.h.period, field.w.period), 4)):
            row, col = min(height // 2 + step, height - 1), min(width // 2 + step, width - 1)
            (gradient,) = torch.autograd.grad(output[0, :, row, col].sum(), image, retain_graph=True)
            rows = gradient[0].abs().sum(dim=(0, 2)).nonzero().flatten()
            cols = gradient[0].abs().sum(dim=(0, 1)).nonzero().flatten()
            for axis, hits, unit in ((field.h, rows, row), (field.w, cols, col)):
                low, high = axis.range_of(unit)
                assert (hits.min().item(), hits.max().item()) == (max(low, 0), min(high, 31)), (name, unit)
    for axis in (fields.of("gated").h, fields.of("gated").w):  # the gate saw everything: so does every unit
        low, high = axis.range_of(0)
        assert low <= 0 and high >= 31 and axis.jump == 0


def _values(model: nn.Module, image):
    """The named values of modern_fields.yaml, from a forward written out here (the split's pieces and
    the gate's product have no module to hook)."""
    x = model.stem(image)
    values = {"stem": x, "down": model.down(x)}
    values["mix"] = model.mix(values["down"])
    values["shuffled"] = channel_shuffle(values["mix"], 4)
    first, second = values["shuffled"].split([4, 12], 1)
    values["left"] = model.left(first)
    values["joined"] = torch.cat([values["left"], second], 1)
    values["pointwise"] = model.pointwise(model.norm(model.to_last(values["joined"])))
    values["up"] = model.up(model.to_first(values["pointwise"]))
    values["smooth"] = model.smooth(values["up"])
    gate = torch.sigmoid(model.excite(model.squeeze(values["smooth"])))
    values["gated"] = values["smooth"] * gate
    emitted_output = model(image)
    assert torch.equal(emitted_output, values["gated"])  # the forward above is the emitted one
    return values


@pytest.mark.parametrize("name", ["mobilenet_v3_small"])
def test_mobilenet_v3_fields_match_gradients(name: str, tmp_path: Path) -> None:
    """The stem's field is a window; after the first squeeze-and-excitation block every unit sees the whole
    input (its gate pooled the whole map): the gradients of the linearised module say the same."""
    from .test_analysis import _linearised, assert_fields_match

    network, _, factory = emitted_spec(name, tmp_path)
    model = _linearised(factory())
    side = 64
    fields = receptive_fields(network, (3, side, side))
    outputs = {}
    model.features[0].register_forward_hook(lambda m, i, o: outputs.setdefault("features.0", o))
    model.features.register_forward_hook(lambda m, i, o: outputs.setdefault("features", o))
    image = torch.ones(1, 3, side, side, dtype=torch.float64, requires_grad=True)
    model(image)
    assert_fields_match({"features.0": fields.of("features.0")}, outputs, image)
    whole = fields.of("features")
    output = outputs["features"]
    (gradient,) = torch.autograd.grad(output[0, :, output.shape[-2] // 2, output.shape[-1] // 2].sum(), image)
    for axis, dims in ((whole.h, (0, 2)), (whole.w, (0, 1))):
        hits = gradient[0].abs().sum(dim=dims).nonzero().flatten()
        low, high = axis.range_of(0)
        assert axis.jump == 0 and low <= 0 and high >= side - 1  # every unit: the whole input
        assert (hits.min().item(), hits.max().item()) == (0, side - 1)
