"""Each row of a cost report keeps its IR node, which reports read attributes from (compare's last feature
map asks the op whether it sees its whole input)."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost


def test_cost_rows_keep_their_nodes(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: 3}\n  - flatten\n  - linear: {out: 2}\n")
    rows = analyse_cost(compile_spec(path)).nodes
    assert [(row.op, row.node.op) for row in rows] == [("conv", "conv"), ("flatten", "flatten"), ("linear", "linear")]
    assert rows[0].node.attrs["kernel"] == (3, 3) and rows[2].node.attrs["in"] == 4 * 6 * 6
