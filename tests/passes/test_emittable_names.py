"""The emittability pass's refusals of names and of members of a `seq`, in full: the location (line:column),
the message and the hint, at the network's level and inside a block definition; and a block's expressions
over its input channels, which are ints, print."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.emittable import check_classes

PREFIX = "cannot generate PyTorch code: "


def refusal(tmp_path: Path, text: str) -> tuple[int, int, str, str | None]:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as raised:
        check_classes(compile_spec(path))
    diagnostic = raised.value.diagnostics[0]
    assert diagnostic.message.startswith(PREFIX)
    return diagnostic.span.line, diagnostic.span.column, diagnostic.message[len(PREFIX):], diagnostic.hint


def test_spec_name_taken_by_a_helper_is_located_at_the_name(tmp_path: Path) -> None:
    assert refusal(tmp_path, "name: center_crop\ninput: [3, 8, 8]\nbody: [relu]\n") == (
        1, 7, "the factory function (the spec name) would be named 'center_crop', which is already the helper "
              "function of 'crop'", "give each class and the spec a different name")


def test_class_named_as_the_spec(tmp_path: Path) -> None:
    assert refusal(tmp_path, "name: Net\nclass: Net\ninput: [3, 8, 8]\nbody: [relu]\n") == (
        2, 8, "the network class would be named 'Net', which is already the factory function (the spec name)",
        "give each class and the spec a different name")


def test_flag_of_an_optional_layer_taken_by_a_layer_name(tmp_path: Path) -> None:
    text = ("input: [4, 8, 8]\nblocks:\n  b:\n    params: {shortcut: true}\n    body:\n"
            "      - conv: {name: use_sum, out: 4, kernel: 1}\n"
            "      - add: {name: sum, from: [use_sum, input], if: shortcut}\nbody: [b]\n")
    assert refusal(tmp_path, text) == (7, 9, "'use_sum' would hold whether 'sum' runs, but it is a layer name",
                                       "rename one of the two")


def test_bare_parameter_in_a_seq_of_the_network(tmp_path: Path) -> None:
    text = "input: [4, 8, 8]\nbody:\n  - seq: {body: [conv: {out: 4, kernel: 1}, scale]}\n"
    assert refusal(tmp_path, text) == (3, 45, "'scale' cannot be an element of a 'seq'", None)


def test_functional_op_in_a_seq_of_a_block(tmp_path: Path) -> None:
    text = ("input: [4, 8, 8]\nblocks:\n  b:\n    body:\n"
            "      - seq: {name: s, body: [conv: {out: 4, kernel: 1}, channel_shuffle: {groups: 2}]}\nbody: [b]\n")
    assert refusal(tmp_path, text) == (5, 58, "'channel_shuffle' cannot be an element of a 'seq'", None)


def test_block_expression_over_its_input_channels_prints(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text("input: [4, 8, 8]\nblocks:\n  b:\n    body:\n      - conv: {out: in_channels / 2, kernel: 1}\n"
                    "body: [b]\n")
    check_classes(compile_spec(path))  # in_channels is an int, so its exact division prints
