"""Evaluating expressions: comparisons as Python's, `min`/`max` of one argument as Python takes them, and
each refusal with its whole message at the offset of the part that is wrong."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest

from archspec.spec import expr as ex

ENV = {"a": 3, "s": "ab", "xs": [4, 5], "flag": True}
COMPARISONS = ["==", "!=", "<", "<=", ">", ">="]


@pytest.mark.parametrize("op", COMPARISONS)
def test_each_comparison_is_pythons(op: str) -> None:
    for left, right in itertools.product([-1, 0, 2, 2.5, "3 / 2"], repeat=2):
        text = f"{left} {op} {right}"
        assert ex.evaluate(ex.parse(text), {}) is eval(text.replace("3 / 2", "1.5")), text  # noqa: S307


@pytest.mark.parametrize("ops", list(itertools.product(COMPARISONS, repeat=2)), ids="".join)
def test_a_chain_of_comparisons_is_pythons(ops: tuple[str, str]) -> None:
    for a, b, c in itertools.product([0, 1, 2], repeat=3):
        text = f"{a} {ops[0]} {b} {ops[1]} {c}"
        assert ex.evaluate(ex.parse(text), {}) is eval(text), text  # noqa: S307


@pytest.mark.parametrize("text, value", [
    ("min(xs)", 4), ("max(xs)", 5), ("min(a, 1)", 1), ("max([1, 2], [1, 3])", [1, 3]), ("max(s, 'b')", "b"),
])
def test_min_and_max_take_several_values_or_one_list(text: str, value: Any) -> None:
    assert ex.evaluate(ex.parse(text), ENV) == value
    assert eval(text, {"min": min, "max": max}, dict(ENV)) == value  # noqa: S307 (as Python has it)


@pytest.mark.parametrize("text, offset, message", [
    # an index of what is not a list or a string: at its bracket
    ("1 + a[0]", 5, "only lists and strings can be indexed"),
    ("1 + flag[0]", 8, "only lists and strings can be indexed"),
    # a prefix operator's operand that is not a number: at the operator
    ("1 + -s", 4, "expected a number, got 'ab'"),
    ("1 + +xs", 4, "expected a number, got [4, 5]"),
    # a function's argument of the wrong type: at the function's name
    ("1 + format(a / 2)", 4, "format() needs a number, string or boolean (make a fraction a float or an integer "
                             "first: float(), int(), round()), got 3/2"),
    ("1 + round(2.5, 1.5)", 4, "round() needs an integer number of digits, got 1.5"),
    ("1 + round(2.5, 'a')", 4, "round() needs an integer number of digits, got 'a'"),
    ("1 + sum(a)", 4, "sum() needs a list of numbers, got 3"),
    ("1 + sum([1, s])", 4, "sum() needs a list of numbers, got [1, 'ab']"),
    ("1 + make_divisible(10, 0)", 4, "make_divisible() needs a positive integer divisor, got 0"),
    ("1 + make_divisible(10, 2.0)", 4, "make_divisible() needs a positive integer divisor, got 2.0"),
    # Python's min(3) is an error and min('ab') is 'a': one argument must be a list
    ("1 + min(a)", 4, "min() needs several values or one list, got 3"),
    ("1 + max(s)", 4, "max() needs several values or one list, got 'ab'"),
    ("1 + min([])", 4, "min() of nothing"),
])
def test_a_refusal_has_its_message_at_the_part_that_is_wrong(text: str, offset: int, message: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.evaluate(ex.parse(text), ENV)
    assert (raised.value.message, raised.value.offset) == (message, offset)


def test_an_expression_too_long_is_refused_at_its_start() -> None:
    ex.parse("1" * ex.MAX_LENGTH)
    with pytest.raises(ex.ExprError) as raised:
        ex.parse("1" * (ex.MAX_LENGTH + 1))
    assert (raised.value.message, raised.value.offset) == ("expression is longer than 2000 characters", 0)


@dataclass(frozen=True)
class Unknown(ex.Expr):
    """A node kind the language does not have."""


def test_a_node_kind_the_language_does_not_have_fails_loudly_and_is_named() -> None:
    for run in (lambda: ex.evaluate(Unknown(0), {}), lambda: ex.to_python(Unknown(0))):
        with pytest.raises(AssertionError, match="^unhandled expression node Unknown$"):
            run()
