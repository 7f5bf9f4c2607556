"""Sizes no machine can run are built, but with a warning: parameters, and activations at the input size."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.cost import LARGE_ACTIVATIONS, LARGE_MODEL_PARAMS, Cost, analyse_cost, scaled, size_warnings


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


def test_the_parameter_warning_starts_past_the_limit(tmp_path: Path) -> None:
    """"More than LARGE_MODEL_PARAMS" parameters, at the body, with the float32 size (4 bytes a weight) and
    the hint that the file is written all the same."""
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 8, 8]\nbody:\n  - relu: {}\n")
    network = compile_spec(spec)
    assert LARGE_MODEL_PARAMS == 10**9
    assert size_warnings(network, LARGE_MODEL_PARAMS) == []
    (warning,) = size_warnings(network, 2_600_000_001)  # 10.4 GB of weights: "about 10"
    assert warning.headline() == (f"{spec}:3:3: warning: the network has 2,600,000,001 parameters, more than "
                                  "1,000,000,000; instantiating it allocates about 10 GB of float32 weights")
    assert warning.hint == "check the widths and repeat counts; the file is written, building it is your choice"


def test_the_activation_warning_has_its_hint_and_follows_the_parameter_warning(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 8, 8]\nbody:\n  - relu: {}\n")
    network = compile_spec(spec)
    params, activations = LARGE_MODEL_PARAMS + 1, 3 * LARGE_ACTIVATIONS
    found = size_warnings(network, params, activations)
    assert [w.severity for w in found] == ["warning", "warning"]
    assert [w.message.split(" ")[:3] for w in found] == [["the", "network", "has"], ["one", "forward", "pass"]]
    assert found[1].headline() == (f"{spec}:3:3: warning: one forward pass at the input size [3, 8, 8] computes "
                                   "3,000,000,000 activation elements, more than 1,000,000,000 (about 12 GB of "
                                   "float32 for one input)")
    assert found[1].hint == "check the input size; the file is written, running it is your choice"
