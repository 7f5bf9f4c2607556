"""The bounds of the expression language, each refusal with its message and offset: values beyond 10^40,
fractions finer than 10^-40, a power checked before it is computed (and one just inside that check, refused
by size once computed), a float that overflows, a NaN a parameter brings in, and nesting past MAX_DEPTH."""

from __future__ import annotations

import sys
from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

TOO_LARGE = "value is too large (more than 10^40)"


@pytest.mark.parametrize("text, env, offset, message", [
    ("10 ** 40 + 1", {}, 9, TOO_LARGE),
    ("1 / 10 ** 40 / 10", {}, 13, "value is too fine (a fraction whose denominator is more than 10^40)"),
    # 2 has two bits: 133 of them is the most the check lets through, and 2 ** 133 is then too large by size
    ("2 ** 133", {}, 2, TOO_LARGE),
    ("2 ** 134", {}, 2, "the result of '**' would have more than 40 digits above or below the point"),
    ("1e30 ** 200", {}, 5, TOO_LARGE),  # Python's float overflows
    ("x + 1", {"x": float("nan")}, 0, "value is not a number"),  # YAML's .nan as a parameter
    ("x", {"x": float("inf")}, 0, TOO_LARGE),
    # a negative exponent is bounded as a positive one is: 1/2 ** 134 would have 41 digits below the point
    ("2 ** -134", {}, 2, "the result of '**' would have more than 40 digits above or below the point"),
    ("2 ** -133", {}, 2, "value is too fine (a fraction whose denominator is more than 10^40)"),
    ("(1 / 2) ** 134", {}, 8, "the result of '**' would have more than 40 digits above or below the point"),
    ("-(10 ** 40) - 1", {}, 12, TOO_LARGE),  # the size, of either sign
    ("round(1 / 3, 41)", {}, 0, "round() to more than 40 digits"),
])
def test_a_value_out_of_bounds_is_refused_where_it_arises(text: str, env: dict[str, Any], offset: int,
                                                          message: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.evaluate(ex.parse(text), env)
    assert (raised.value.offset, raised.value.message) == (offset, message)


def test_a_value_at_the_bound_is_kept() -> None:
    assert ex.evaluate(ex.parse("10 ** 40"), {}) == 10**40
    assert ex.evaluate(ex.parse("2 ** 132"), {}) == 2**132
    assert ex.evaluate(ex.parse("-(10 ** 40)"), {}) == -10**40
    assert ex.evaluate(ex.parse("1 / 10 ** 40"), {}) == Fraction(1, 10**40)
    assert ex.evaluate(ex.parse("2 ** -132"), {}) == Fraction(1, 2**132)
    assert ex.evaluate(ex.parse("1 ** 256"), {}) == ex.evaluate(ex.parse("1 ** -256"), {}) == 1  # the largest exponents
    assert ex.evaluate(ex.parse("round(1 / 3, 40)"), {}) == Fraction(int("3" * 40), 10**40)
    assert ex.evaluate(ex.parse("round(12, -40)"), {}) == 0
    # a list or a string of 100,000 items is the longest
    env = {"xs": [0] * 99_999, "s": "a" * 99_999}
    assert ex.evaluate(ex.parse("len(xs + [1]) + len(s + 'b')"), env) == 200_000


MESSAGE = "expression is nested too deeply (more than 40 levels of brackets and operators)"


def test_a_chain_of_operators_past_the_limit_is_refused_at_the_operator_that_passes_it() -> None:
    """The expression itself is the first level: a chain of 39 operators is the longest."""
    assert ex.evaluate(ex.parse("+".join(["1"] * ex.MAX_DEPTH)), {}) == ex.MAX_DEPTH
    with pytest.raises(ex.ExprError) as raised:
        ex.parse("+".join(["1"] * (ex.MAX_DEPTH + 1)))
    assert (raised.value.offset, raised.value.message) == (2 * ex.MAX_DEPTH - 1, MESSAGE)  # the 40th '+'


def test_brackets_and_right_nested_operators_past_the_limit_are_refused_where_they_pass_it() -> None:
    brackets = ex.MAX_DEPTH - 1
    limit = sys.getrecursionlimit()
    # The parser recurses once per bracket; a tracer (coverage, a mutation tester) adds frames to every call.
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        assert ex.evaluate(ex.parse("(" * brackets + "1" + ")" * brackets), {}) == 1
        with pytest.raises(ex.ExprError) as raised:
            ex.parse("(" * (brackets + 1) + "1" + ")" * (brackets + 1))
        assert (raised.value.offset, raised.value.message) == (brackets + 1, MESSAGE)
        # `**` and `not` nest to the right: refused at the 40th of them
        assert ex.evaluate(ex.parse("1" + "**1" * brackets), {}) == 1
        for text, offset in (("1" + "**1" * (brackets + 1), 1 + 3 * brackets),
                             ("not " * (brackets + 1) + "true", 4 * brackets)):
            with pytest.raises(ex.ExprError) as raised:
                ex.parse(text)
            assert (raised.value.offset, raised.value.message) == (offset, MESSAGE), text
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("before, brackets", [
    ("0 or ", ex.MAX_DEPTH - 1), ("not 0 or ", ex.MAX_DEPTH - 1), ("not not 0 or ", ex.MAX_DEPTH - 1),
    # an operand of `*` is one level deeper: the `*` chain is one
    ("0 * ", ex.MAX_DEPTH - 2), ("-0 * ", ex.MAX_DEPTH - 2), ("- -0 * ", ex.MAX_DEPTH - 2),
])
def test_a_closed_prefix_operator_leaves_the_nesting_where_it_found_it(before: str, brackets: int) -> None:
    """What follows `not x` or `-x` nests from the level the operator started at: the bracket limit is the
    same after it as after a plain operand."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        ex.parse(before + "(" * brackets + "1" + ")" * brackets)
        with pytest.raises(ex.ExprError) as raised:
            ex.parse(before + "(" * (brackets + 1) + "1" + ")" * (brackets + 1))
        assert (raised.value.offset, raised.value.message) == (len(before) + brackets + 1, MESSAGE)
    finally:
        sys.setrecursionlimit(limit)


@pytest.mark.parametrize("text, message, offset", [
    ("len(xs + [1])", "list is too long", 7),  # at the `+` that makes it
    ("len(s + 'b')", "str is too long", 6),
])
def test_a_value_too_long_is_refused_where_it_is_made(text: str, message: str, offset: int) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.evaluate(ex.parse(text), {"xs": [0] * 100_000, "s": "a" * 100_000})
    assert (raised.value.message, raised.value.offset) == (message, offset)
