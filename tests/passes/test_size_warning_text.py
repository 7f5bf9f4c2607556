"""Both size warnings are warnings (the file is still written), located at the spec's body, with the whole
message and hint a user reads."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.cost import LARGE_ACTIVATIONS, LARGE_MODEL_PARAMS, size_warnings


def test_size_warnings_read_in_full(tmp_path: Path) -> None:
    spec = tmp_path / "net.yaml"
    spec.write_text("input: [3, 8, 8]\nbody:\n  - relu\n")
    network = compile_spec(spec)
    params, activations = 250 * 10**9, 3 * 10**9
    assert params > LARGE_MODEL_PARAMS and activations > LARGE_ACTIVATIONS
    found = [(d.severity, d.span.line, d.span.column, d.message, d.hint)
             for d in size_warnings(network, params, activations)]
    assert found == [
        ("warning", 3, 3, f"the network has 250,000,000,000 parameters, more than {LARGE_MODEL_PARAMS:,}; "
                          "instantiating it allocates about 1,000 GB of float32 weights",
         "check the widths and repeat counts; the file is written, building it is your choice"),
        ("warning", 3, 3, "one forward pass at the input size [3, 8, 8] computes 3,000,000,000 activation elements, "
                          f"more than {LARGE_ACTIVATIONS:,} (about 12 GB of float32 for one input)",
         "check the input size; the file is written, running it is your choice"),
    ]
