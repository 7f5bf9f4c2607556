"""Lowering reports each mistake once: no cascade from a stand-in, errors in a block's body even when every
instance's input is broken, and a warning for a layer whose output nothing reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError


def errors(tmp_path: Path, body: str, blocks: str = "") -> list[tuple[int, str]]:
    path = tmp_path / "net.yaml"
    path.write_text(f"archspec: 1\nname: net\ninput: [3, 16, 16]\n{blocks}body:\n{body}")
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    return [(d.span.line, d.message) for d in raised.value.diagnostics]


def test_an_unnamed_unknown_op_read_by_its_meant_name_is_one_error(tmp_path: Path) -> None:
    found = errors(tmp_path, "  - convv: {out: 8, kernel: 3}\n"
                             "  - relu\n"
                             "  - add: {from: [conv1, relu]}\n"
                             "  - conv: {from: convv, out: 8, kernel: 3, stride: 0}\n")
    assert found == [(5, "unknown op or block 'convv'"), (8, "'stride' of conv must be at least 1, got 0")]


def test_errors_in_a_block_body_are_reported_when_its_input_is_broken(tmp_path: Path) -> None:
    blocks = ("blocks:\n  unit:\n    params: {out: int}\n    body:\n"
              "      - conv: {name: conv, out: out, kernle: 3}\n"
              "      - conv: {name: conv2, out: in_channels * 2, kernel: 1}\n")
    found = errors(tmp_path, "  - foo: {name: stem}\n  - unit: {name: u1, out: 4}\n  - unit: {name: u2, out: 8}\n",
                   blocks)
    # The unknown op once; the misspelled attribute once for both instances; nothing about in_channels.
    assert found == [(11, "unknown op or block 'foo'"), (8, "'conv' has no attribute 'kernle'")]


def test_a_layer_nobody_reads_is_warned(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("archspec: 1\nname: net\ninput: [3, 16, 16]\nbody:\n"
                    "  - conv: {name: a, out: 8, kernel: 3}\n"
                    "  - conv: {name: b, from: input, out: 8, kernel: 3}\n")
    warnings = compile_spec(path).warnings
    assert [(w.span.line, w.message) for w in warnings] == [(5, "the output of 'a' is never read")]
