"""A map scaled by a gate (one value per channel, broadcast over the map) reads, at every unit, what the gate
read and what the map read at any unit. Here the gate pools a 5x5 padded conv of the input, which reads two
rows and columns past each edge, and the map is a 1x1 conv: the product's field is the gate's, by definition
of the two convolutions' windows."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.receptive_field import receptive_fields

SPEC = """input: [4, 8, 10]
body:
  - conv: {name: wide, out: 4, kernel: 5, padding: 2, from: input}
  - adaptive_avgpool: {name: gate, size: 1}
  - conv: {name: x, out: 4, kernel: %d, padding: %d, from: input}
  - mul: {name: scaled, from: [x, gate]}
"""


def fields_of(tmp_path: Path, kernel: int) -> dict:
    path = tmp_path / "gate.yaml"
    path.write_text(SPEC % (kernel, kernel // 2))
    fields = receptive_fields(compile_spec(path)).fields
    return {name: (fields[name].h.range_of(0), fields[name].w.range_of(0)) for name in ("gate", "scaled")}


def test_gated_map_reads_what_its_gate_read(tmp_path: Path) -> None:
    # the 5x5 conv pads by 2: rows -2 .. 9 of an 8-row input, columns -2 .. 11 of a 10-column one
    assert fields_of(tmp_path, 1) == {"gate": ((-2, 9), (-2, 11)), "scaled": ((-2, 9), (-2, 11))}


def test_gated_map_reads_what_the_map_read_anywhere(tmp_path: Path) -> None:
    # a 9x9 conv padded by 4 reads four past each edge, more than the gate: the union is the map's
    assert fields_of(tmp_path, 9)["scaled"] == ((-4, 11), (-4, 13))
