"""`$param` inside a block definition: the emittability pass checks every class the parameter may name, and
refuses an unprintable expression after an unnamed repeat of a sequence built as a list, or in its condition."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.emittable import check_classes

CHOSEN = ("input: [4, 8, 8]\nblocks:\n  a:\n    body:\n      - conv: {out: in_channels, kernel: 1}\n"
          "  b:\n    body: [relu]\n  stage:\n    params: {kind: a}\n    body: [$kind]\n"
          "body:\n  - stage: {kind: a}\n  - stage: {kind: b}\n")

UNPRINTABLE = "cannot generate PyTorch code: cannot print this exact '/' as Python: the types of its operands " \
              "are not known here"


def located(tmp_path: Path, text: str) -> tuple[int, int, str, str | None]:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        check_classes(compile_spec(path))
    diagnostic = raised.value.diagnostics[0]
    return diagnostic.span.line, diagnostic.span.column, diagnostic.message, diagnostic.hint


def test_block_chosen_by_a_parameter_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(CHOSEN)
    lowering = check_classes(compile_spec(path))
    assert lowering.block("a") is not None and lowering.block("b") is not None


SEQUENCE = ("input: [4, 8, 8]\nblocks:\n  b:\n    params: {extra: true, sizes: [4, 8]}\n    body:\n"
            "      - seq:\n          name: s\n          body:\n")


def test_member_after_an_unnamed_repeat_is_checked(tmp_path: Path) -> None:
    text = SEQUENCE + ("            - repeat: {count: 2, body: [conv: {out: 4, kernel: 1}]}\n"
                       "            - conv: {out: \"sizes[0] / 2\", kernel: 1, if: extra}\nbody: [b]\n")
    assert located(tmp_path, text) == (10, 15, UNPRINTABLE, "convert the operands with int() or float()")


def test_condition_of_an_unnamed_repeat_is_checked(tmp_path: Path) -> None:
    # an expression without a span of its own is reported at the block definition
    text = SEQUENCE + ("            - repeat: {count: 2, if: \"sizes[0] / 2 == 2\", body: [conv: {out: 4, kernel: 1}]}\n"
                       "            - conv: {out: 4, kernel: 1, if: extra}\nbody: [b]\n")
    assert located(tmp_path, text) == (3, 3, UNPRINTABLE, "convert the operands with int() or float()")
