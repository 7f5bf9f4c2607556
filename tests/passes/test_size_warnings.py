"""Sizes no machine can run are built, but with a warning: parameters, and activations at the input size."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.cost import LARGE_ACTIVATIONS, analyse_cost, size_warnings


def test_huge_input_warns_of_activation_memory(tmp_path: Path) -> None:
    spec = tmp_path / "huge_input.yaml"
    spec.write_text("input: [3, 100000000000, 100000000000]\nbody:\n  - conv: {out: 4, kernel: 3}\n")
    network = compile_spec(spec)
    total = analyse_cost(network).total
    assert total.activations == 4 * (10**11 - 2) ** 2  # the conv's output
    (warning,) = size_warnings(network, total.params, total.activations)
    assert warning.severity == "warning" and "activation elements" in warning.message
    assert warning.span.line == 3


def test_ordinary_input_does_not_warn(tmp_path: Path) -> None:
    spec = tmp_path / "small.yaml"
    spec.write_text("input: [3, 224, 224]\nbody:\n  - conv: {out: 64, kernel: 7, stride: 2, padding: 3}\n")
    network = compile_spec(spec)
    total = analyse_cost(network).total
    assert total.activations < LARGE_ACTIVATIONS
    assert size_warnings(network, total.params, total.activations) == []
