"""Sizes no machine can run are built, but with a warning: parameters, and activations at the input size."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.cost import LARGE_ACTIVATIONS, Cost, analyse_cost, scaled, size_warnings


def test_huge_input_warns_of_activation_memory(tmp_path: Path) -> None:
    spec = tmp_path / "huge_input.yaml"
    spec.write_text("input: [3, 100000000000, 100000000000]\nbody:\n  - conv: {out: 4, kernel: 3}\n")
    network = compile_spec(spec)
    total = analyse_cost(network).total
    assert total.activations == 4 * (10**11 - 2) ** 2  # the conv's output
    (warning,) = size_warnings(network, total.params, total.activations)
    assert warning.severity == "warning" and "activation elements" in warning.message
    gigabytes = total.activations * 4 // 10**9  # float32: 4 bytes an element
    assert warning.message.endswith(f"(about {gigabytes:,} GB of float32 for one input)")
    assert warning.span.line == 3


def test_ordinary_input_does_not_warn(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 224, 224]\nbody:\n  - conv: {out: 64, kernel: 7, stride: 2, padding: 3}\n")
    network = compile_spec(spec)
    total = analyse_cost(network).total
    assert total.activations < LARGE_ACTIVATIONS
    assert size_warnings(network, total.params, total.activations) == []


def test_a_part_run_several_times_counts_its_weights_once_and_its_work_each_time() -> None:
    """A detector's second stage runs once per region with the same weights (`TwoStageCost.second_stage`)."""
    once = Cost(params=10, buffers=3, macs=100, other_ops=7, activations=50)
    assert scaled(once, 4) == Cost(params=10, buffers=3, macs=400, other_ops=28, activations=200)


def test_the_activation_warning_starts_past_the_limit(tmp_path: Path) -> None:
    """"More than LARGE_ACTIVATIONS": at the limit itself, no warning."""
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 8, 8]\nbody:\n  - relu: {}\n")
    network = compile_spec(spec)
    assert size_warnings(network, 0, LARGE_ACTIVATIONS) == []
    (warning,) = size_warnings(network, 0, LARGE_ACTIVATIONS + 1)
    assert warning.message == ("one forward pass at the input size [3, 8, 8] computes 1,000,000,001 activation "
                               "elements, more than 1,000,000,000 (about 4 GB of float32 for one input)")
