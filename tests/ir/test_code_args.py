"""How an op's emit rule decides to leave a keyword out: only when the spec's value is PyTorch's default, of
the same type (`bias=1` is not `bias=True`, `eps=1` is not `eps=1.0`), and a pair only when both of its
sides are (`stride=(2, 2)` is `stride=2`); a value known only as source is always written."""

from __future__ import annotations

from typing import Any

import pytest

from archspec.ops.base import CodeArgs, pair_keyword


def _keyword(value: Any, default: Any) -> list[str]:
    return CodeArgs({"x": value}, {"x": repr(value)}).keyword("x", "x", default)


@pytest.mark.parametrize("value, default", [(True, True), (0.1, 0.1), ("none", "none"), (2, 2), ((2, 2), 2),
                                            ((1, 1), (1, 1))])
def test_a_value_equal_to_the_default_is_left_out(value: Any, default: Any) -> None:
    assert _keyword(value, default) == []


@pytest.mark.parametrize("value, default", [(1, True), (True, 1), (1, 1.0), (0, False), ((2, 3), 2), ((1, 1), True),
                                            ((True, True), True), (False, True), ((2, 2), (2, 3))])
def test_a_value_of_another_type_or_size_is_written(value: Any, default: Any) -> None:
    assert _keyword(value, default) == [f"x={value!r}"]


def test_a_value_known_only_as_source_is_written() -> None:
    args = CodeArgs({}, {"stride": "stride"})
    assert args.keyword("stride", "stride", 1) == ["stride=stride"]
    assert pair_keyword(args, "stride", "stride", 1) == ["stride=stride"]


def test_a_pair_keyword_is_written_as_torchvision_writes_it() -> None:
    square = CodeArgs({"padding": (1, 1)}, {"padding": "(1, 1)"})
    assert pair_keyword(square, "padding", "padding", 0) == ["padding=1"]
    assert pair_keyword(square, "padding", "padding", 1) == []
    oblong = CodeArgs({"padding": (0, 1)}, {"padding": "(0, 1)"})
    assert pair_keyword(oblong, "padding", "padding", 0) == ["padding=(0, 1)"]
