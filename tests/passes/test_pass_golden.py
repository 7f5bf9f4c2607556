"""Per-layer tables of every pass for every shipped spec: shapes, costs and receptive fields.

Each table lists every value the pass reports (every leaf and container path, in execution order),
so a change in one op's rule fails here with the layer and the number that moved, and the op's own
test in test_op_costs.py says which rule it was. Regenerate with ARCHSPEC_ACCEPT=1 and review the diff.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import pytest

from archspec.backends.analysis import rf_names
from archspec.compiler import compile_spec
from archspec.passes.pipeline import Analysis

from ..conftest import ROOT, check_golden, shipped_specs

GOLDEN = Path(__file__).parent / "golden"
SPECS = shipped_specs()


@lru_cache(maxsize=None)
def analysis(name: str) -> Analysis:
    return Analysis(compile_spec(SPECS[name].relative_to(ROOT)))


def exact(value: int | Fraction) -> str:
    return str(Fraction(value))


def shapes_table(result: Analysis) -> str:
    return "".join(f"{path}  {'x'.join(map(str, shape))}\n" for path, shape in result.shapes.shapes.items())


def cost_table(result: Analysis) -> str:
    """Every leaf's costs, with the stage and block it is summed into (`flops --by`), the totals and the
    network's output shapes."""
    lines = ["name  op  stage  block  params  buffers  macs  other_ops  activations"]
    for row in result.cost.nodes:
        c = row.cost
        lines.append(f"{row.name}  {row.op}  {row.stage}  {row.block}  {c.params}  {c.buffers}  {c.macs}  "
                     f"{c.other_ops}  {c.activations}")
    t = result.cost.total
    lines.append(f"total  -  -  -  {t.params}  {t.buffers}  {t.macs}  {t.other_ops}  {t.activations}")
    lines.append("outputs  " + ", ".join("x".join(map(str, s)) if s else "-" for s in result.cost.output_shapes))
    return "\n".join(lines) + "\n"


def rf_table(result: Analysis) -> str:
    report = result.fields
    lines = ["name  size  stride  centre"]
    for name in rf_names(result.network, report):
        field = report.fields[name]
        lines.append(f"{name}  {'x'.join(map(str, field.size))}  {'x'.join(map(exact, field.stride))}  "
                     f"{', '.join(map(exact, field.centre))}")
    lines += [f"warning: {d.headline()}" for d in report.diagnostics.warnings]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_shapes(spec: str, at_root: Path) -> None:
    check_golden(GOLDEN / "shapes" / f"{spec}.txt", shapes_table(analysis(spec)), f"the shapes of {spec}")


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_cost(spec: str, at_root: Path) -> None:
    check_golden(GOLDEN / "cost" / f"{spec}.txt", cost_table(analysis(spec)), f"the costs of {spec}")


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_receptive_fields(spec: str, at_root: Path) -> None:
    check_golden(GOLDEN / "rf" / f"{spec}.txt", rf_table(analysis(spec)), f"the receptive fields of {spec}")
