"""The receptive-field rules of the ops that change resolution, against what PyTorch's op reads: an input
unit is read by an output unit when lighting up that input unit alone changes that output unit (a bilinear
weight of zero reads nothing, as the rules say). Units past the edge are left out, as tests/passes/
test_analysis.py clips fields measured by gradients to the image."""

from __future__ import annotations

from typing import Callable

import pytest

from archspec.ops import OPS

torch = pytest.importorskip("torch")
F = torch.nn.functional


def read_by_pytorch(apply: Callable, channels: int, height: int, width: int) -> tuple[dict, dict]:
    """For each output row and column, the input rows and columns that reach it."""
    rows: dict[int, set[int]] = {}
    columns: dict[int, set[int]] = {}
    for axis, size, found in ((2, height, rows), (3, width, columns)):
        for unit in range(size):
            image = torch.zeros(1, channels, height, width, dtype=torch.float64)
            image.narrow(axis, unit, 1).fill_(1.0)
            reached = apply(image).abs().sum(dim=(0, 1, 5 - axis)).nonzero().flatten().tolist()
            for output_unit in reached:
                found.setdefault(output_unit, set()).add(unit)
    return rows, columns


def read_by_rule(op: str, attrs: dict, inputs: list, output: tuple[int, int]) -> tuple[dict, dict]:
    """The input units each output unit reads by the rule, those inside the input: like a padded window's,
    a field may reach past the edge (bilinear interpolation there reads one unit, which PyTorch repeats).
    The rule's ratio is checked too: q output units further on (q its denominator), the same units read
    are q * ratio further on, which is how the pass follows a field without listing every unit."""
    reads = OPS[op].rf(attrs, inputs)
    for rule in reads:
        q = rule.ratio.denominator
        for o in range(-4, 8):
            assert set(rule.units(o + q)) == {u + q * rule.ratio for u in rule.units(o)}, (op, rule.ratio, o)
    return tuple({o: set(rule.units(o)) & set(range(size_in)) for o in range(size)}
                 for rule, size, size_in in zip(reads, output, inputs[0][1:]))


@pytest.mark.parametrize("factor", [(2, 3), (3, 1)])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_upsample_field_is_what_pytorch_reads(factor: tuple[int, int], mode: str) -> None:
    extra = {"align_corners": False} if mode == "bilinear" else {}
    upsample = torch.nn.Upsample(scale_factor=factor, mode=mode, **extra)
    expected = read_by_pytorch(upsample, 1, 4, 5)
    assert read_by_rule("upsample", {"factor": factor, "mode": mode}, [(1, 4, 5)],
                        (4 * factor[0], 5 * factor[1])) == expected


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_resize_field_is_what_pytorch_reads(mode: str) -> None:
    extra = {"align_corners": False} if mode == "bilinear" else {}
    expected = read_by_pytorch(lambda x: F.interpolate(x, size=(7, 10), mode=mode, **extra), 1, 3, 4)
    assert read_by_rule("resize", {"mode": mode}, [(1, 3, 4), (1, 7, 10)], (7, 10)) == expected


@pytest.mark.parametrize("factor", [2, 3])
def test_pixel_shuffle_field_is_what_pytorch_reads(factor: int) -> None:
    expected = read_by_pytorch(torch.nn.PixelShuffle(factor), factor * factor, 3, 4)
    assert read_by_rule("pixel_shuffle", {"factor": factor}, [(factor * factor, 3, 4)],
                        (3 * factor, 4 * factor)) == expected


@pytest.mark.parametrize("factor", [2, 3])
def test_pixel_unshuffle_field_is_what_pytorch_reads(factor: int) -> None:
    expected = read_by_pytorch(torch.nn.PixelUnshuffle(factor), 1, 2 * factor, 3 * factor)
    assert read_by_rule("pixel_unshuffle", {"factor": factor}, [(1, 2 * factor, 3 * factor)], (2, 3)) == expected


def test_a_field_in_json_writes_a_fractional_stride_as_a_fraction(tmp_path) -> None:
    """After an upsampling, neighbouring output units are half an input pixel apart."""
    from archspec.compiler import compile_spec
    from archspec.passes.receptive_field import receptive_fields

    path = tmp_path / "up.yaml"
    path.write_text("input: [1, 8, 8]\nbody:\n  - conv: {name: c, out: 1, kernel: 3, stride: 2}\n"
                    "  - upsample: {name: up, factor: 4}\n")
    fields = receptive_fields(compile_spec(path))
    assert fields.of("c").to_json("c") == {"name": "c", "rf": [3, 3], "stride": [2, 2], "start": [1, 1]}
    assert fields.of("up").to_json("up")["stride"] == ["1/2", "1/2"]


def _compiled(tmp_path, body: str):
    from archspec.compiler import compile_spec

    path = tmp_path / "net.yaml"
    path.write_text("input: [1, 8, 8]\nbody:\n" + body)
    return compile_spec(path)


def test_a_transposed_convolution_with_a_stride_past_its_kernel_leaves_units_that_read_nothing(tmp_path) -> None:
    from archspec.passes.receptive_field import receptive_fields

    network = _compiled(tmp_path, "  - conv_transpose: {name: t, out: 1, kernel: 1, stride: 2}\n")
    field = receptive_fields(network).of("t")
    assert field.h.ranges == ((0, 0), None) and field.size == (1, 1)  # odd units are zeros: they read nothing


def test_fields_at_another_input_size_follow_a_pool_over_the_whole_input(tmp_path) -> None:
    from archspec.passes.receptive_field import receptive_fields

    network = _compiled(tmp_path, "  - adaptive_avgpool: {name: g, size: 1}\n")
    assert receptive_fields(network).of("g").size == (8, 8)
    assert receptive_fields(network, (1, 16, 12)).of("g").size == (16, 12)
