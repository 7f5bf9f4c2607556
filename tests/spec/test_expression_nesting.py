"""The nesting limit of the expression parser counted from where each part starts: every argument of a call
and every item of a list nests from the same level as the first, each further index of a chain one level
deeper, and a closed prefix operator (`-x`, `not x`) inside other operators leaves the level where it
found it. Each refusal is at the token that passes the limit."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from archspec.spec import expr as ex

MESSAGE = "expression is nested too deeply (more than 40 levels of brackets and operators)"


@pytest.fixture(autouse=True)
def deep_recursion() -> Iterator[None]:
    # The parser recurses once per bracket; a tracer (coverage, a mutation tester) adds frames to every call.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    yield
    sys.setrecursionlimit(limit)


def brackets(count: int) -> str:
    return "(" * count + "1" + ")" * count


# `P` stands for the brackets; `levels` counts the levels open where they start: the expression itself is
# one, an argument or item one more, an index two (its `[` and the expression inside), an operator one.
@pytest.mark.parametrize("template, levels", [
    ("P", 1),
    ("max(P)", 2), ("max(0, P)", 2), ("max(0, 0, P)", 2), ("max(xs[0], P)", 2),
    ("[P]", 2), ("[0, P]", 2), ("[0, 0, P]", 2), ("[[0], P]", 2),
    ("xs[P]", 3), ("xs[0][P]", 4), ("xs[0][0][P]", 5), ("xs[0][1 + 1][P]", 5),
    ("0 + 0 * P", 3), ("0 + -0 * P", 3), ("0 + - -0 * P", 3), ("0 + -(0) * P", 3),
    ("(0 or P)", 2), ("(not 0 or P)", 2), ("(not not 0 or P)", 2), ("[-0, P]", 2), ("max(not 0, P)", 2),
])
def test_the_nesting_limit_counts_from_where_the_brackets_start(template: str, levels: int) -> None:
    most = ex.MAX_DEPTH - levels
    before = template.index("P")
    ex.parse(template.replace("P", brackets(most)))
    with pytest.raises(ex.ExprError) as raised:
        ex.parse(template.replace("P", brackets(most + 1)))
    # refused at the value inside the bracket that opens one level too many
    assert (raised.value.message, raised.value.offset) == (MESSAGE, before + most + 1)
