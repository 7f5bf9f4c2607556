"""Repeats inside a block definition: the index of a repeat is an int in the class's loop, so an exact
division over it prints (as a Fraction the analysis computes)."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.passes.emittable import check_classes
from archspec.spec import expr as ex


def test_repeat_index_is_an_int_in_the_class(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: [4, 8, 8]\nblocks:\n  b:\n    body:\n"
                    "      - repeat: {name: r, count: 2, as: i, body: [conv: {out: \"(i + 2) * 4 / 2\", kernel: 1}]}\n"
                    "body: [b]\n")
    check_classes(compile_spec(path))
    # the printer's own rule: over an int the exact division prints
    assert ex.to_python(ex.parse("(i + 2) * 4 / 2"), kinds={"i": "int"})
