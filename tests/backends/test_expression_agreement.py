"""Expressions mean one thing: the emitted block classes compute what the analysis computed.

Each spec here once built a module that disagreed with `summary` (a layer left out, another stride, another
channel count) or ended in an AssertionError, because the exact `/` was printed as Python's `//`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost

from .agreement import disagreements, import_emitted

torch = pytest.importorskip("torch")


def spec_with_block(body: str, args: str, params: str = "{planes: int}") -> str:
    return (f"input: [4, 8, 8]\nblocks:\n  unit:\n    params: {params}\n    body:\n{body}"
            f"body:\n  - conv: {{out: 4, kernel: 1}}\n  - unit: {args}\n  - conv: {{name: head, out: 2, kernel: 1}}\n")


CASES = {
    "condition on a fraction": spec_with_block(
        "      - conv: {name: conv, out: 4, kernel: 1}\n      - bn: {name: bn, if: \"planes / 2 > 1\"}\n",
        "{planes: 3}"),
    "stride from a fraction": spec_with_block(
        "      - conv: {name: conv, out: 4, kernel: 3, padding: 1, stride: \"2 if planes / 2 > 1 else 1\"}\n",
        "{planes: 3}"),
    "channels from a quotient of fractions": spec_with_block(
        "      - conv: {name: conv, out: \"planes / (planes / 4)\", kernel: 1}\n", "{planes: 6}"),
    "float parameter divided": spec_with_block(
        "      - dropout: {name: drop, p: \"rate / 3\"}\n      - conv: {name: conv, out: 4, kernel: 1}\n",
        "{rate: 0.5}", "{rate: float}"),
    "slope from a fraction": spec_with_block(
        "      - leaky_relu: {name: act, slope: \"1 / planes\"}\n", "{planes: 3}"),
    "probability from a fraction": spec_with_block(
        "      - dropout: {name: drop, p: \"planes / 10\"}\n", "{planes: 3}"),
    "epsilon from a power": spec_with_block(
        "      - bn: {name: bn, eps: \"1 / 10 ** planes\"}\n", "{planes: 7}"),
    "negative power": spec_with_block(
        "      - conv: {name: conv, out: \"planes * 2 ** -1 * 4\", kernel: 1}\n", "{planes: 3}"),
    "width multiplier": spec_with_block(
        "      - conv: {name: conv, out: \"make_divisible(planes * width, 8)\", kernel: 1}\n"
        "      - conv: {name: squeeze, out: \"max(1, round(planes * width / 3))\", kernel: 1}\n"
        "      - conv: {name: floor, out: \"floor(planes / 7) + ceil(planes * width / 5)\", kernel: 1}\n",
        "{planes: 37, width: 0.75}", "{planes: int, width: float}"),
    "integer of a fraction": spec_with_block(
        "      - conv: {name: conv, out: \"int(planes * 5 / 3)\", kernel: 1, groups: \"len('ab')\"}\n",
        "{planes: 5}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_emitted_block_agrees_with_summary(case: str, tmp_path: Path) -> None:
    from cli.main import app
    from typer.testing import CliRunner

    spec = tmp_path / "agree.yaml"
    spec.write_text(CASES[case])
    runner = CliRunner()
    built = runner.invoke(app, ["build", str(spec), "-o", str(tmp_path / "model.py")])
    assert built.exit_code == 0, built.output
    summary = json.loads(runner.invoke(app, ["summary", str(spec), "--json"]).stdout)
    network = compile_spec(spec)
    report = analyse_cost(network)
    assert summary["total"]["params"] == report.total.params
    model = getattr(import_emitted(network, tmp_path), network.name)().eval()
    assert disagreements(network, report, model, "cpu") == []
    assert sum(p.numel() for p in model.parameters()) == summary["total"]["params"]
