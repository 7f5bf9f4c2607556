"""The messages of the spec's functions when an argument has the wrong type, and of text left over after a
whole expression: each names the function (or the token) and where it is in the expression text."""

from __future__ import annotations

import pytest

from archspec.spec import expr as ex


@pytest.mark.parametrize("text, offset, message", [
    ("1 + sum('x')", 4, "sum() needs a list of numbers, got 'x'"),
    ("sum([1, 'x'])", 0, "sum() needs a list of numbers, got [1, 'x']"),
    ("round(2.5, 1.5)", 0, "round() needs an integer number of digits, got 1.5"),
    ("round(2.5, true)", 0, "round() needs an integer number of digits, got True"),
    ("format([1])", 0, "format() needs a number, string or boolean (make a fraction a float or an integer "
                       "first: float(), int(), round()), got [1]"),
    ("format(1 / 3)", 0, "format() needs a number, string or boolean (make a fraction a float or an integer "
                         "first: float(), int(), round()), got 1/3"),
    ("2 * make_divisible(10, 0)", 4, "make_divisible() needs a positive integer divisor, got 0"),
    ("make_divisible(10, 2.0)", 0, "make_divisible() needs a positive integer divisor, got 2.0"),
])
def test_a_function_names_itself_and_what_it_needs(text: str, offset: int, message: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.evaluate(ex.parse(text), {})
    assert (raised.value.offset, raised.value.message) == (offset, message)


@pytest.mark.parametrize("text, offset, message", [
    ("a b", 2, "unexpected 'b' in expression"),
    ("(1 + 2) 3", 8, "unexpected '3' in expression"),
    ("f(1))", 4, "unexpected ')' in expression"),
])
def test_text_after_a_whole_expression_is_an_error_at_that_text(text: str, offset: int, message: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.parse(text)
    assert (raised.value.offset, raised.value.message, str(raised.value)) == (offset, message, message)
