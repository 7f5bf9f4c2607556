"""What the printer knows of the Python type of each printed part, and the brackets it writes: a part's type
decides how an exact '/', a power, format() and an int/float conversion are printed, so a wrong type prints
Python that computes something else or fails. Each printed text is checked against the evaluator."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

KINDS = {"a": "int", "b": "int", "i": "int", "s": "str", "x": "float", "y": "float"}
ENV = {"a": 4, "b": 2, "i": 1, "s": "abc", "x": 1.5, "y": 0.5}


def _run(source: str, env: dict[str, Any]) -> Any:
    namespace = {"Fraction": Fraction, "math": math, **env}
    return eval(source, namespace)  # noqa: S307 (printed by the test)


@pytest.mark.parametrize("text, want, printed", [
    # the part's type decides how '/' prints: a float divides as floats, an int exactly
    ("(x + 1) / 2", None, "(x + 1) / 2"),
    ("float(a) / 2", None, "float(a) / 2"),
    ("floor(x) / 2", None, "Fraction(math.floor(x), 2)"),
    ("ceil(x) / 3", None, "Fraction(math.ceil(x), 3)"),
    ("a ** b / 3", None, "Fraction(a) ** b / 3"),  # b may be negative: a fraction, and divided stays one
    ("a ** -b / 3", None, "Fraction(a) ** (-b) / 3"),
    ("a ** x / 2", None, "a ** x / 2"),  # an int to a float power is a float
    ("a ** 0", None, "a ** 0"),  # zero is a natural exponent: the power of an int is an int
    ("a / 2 + 1", "int", "int(Fraction(a, 2) + 1)"),  # a fraction plus an int is a fraction
    ("x / 2", "float", "x / 2"),  # a float divided is a float already
    ("format(x / 2, '.2f')", None, 'format(x / 2, ".2f")'),
    ("format(a ** x, '.2f')", None, 'format(a ** x, ".2f")'),
    ("format(s[i], '>3')", None, 'format(s[i], ">3")'),  # a character of a string is a string
    ("format(s[i] + s, '>5')", None, 'format(s[i] + s, ">5")'),
    ("[a / 2, 1]", "float", "[float(Fraction(a, 2)), 1]"),  # a list where floats are wanted: item by item
    ("[a / 2, x]", "float", "[float(Fraction(a, 2)), x]"),
    # brackets: ** groups to the right, in the spec as in Python
    ("(x ** 2) ** 3", None, "(x ** 2) ** 3"),
    ("x ** 2 ** 3", None, "x ** 2 ** 3"),
    ("x ** (y ** 2)", None, "x ** y ** 2"),
    # a conditional in the else branch chains without brackets; in the other places it needs them
    ("a if i else b if a > 2 else x", None, "a if i else b if a > 2 else x"),
    # a Fraction(...) call binds as tightly as a call, whatever its arguments' brackets
    ("-(a / abs(b))", None, "-Fraction(a, abs(b))"),
    ("-((a + b) * b / 2)", None, "-Fraction((a + b) * b, 2)"),
    ("-(abs(a) / (b + 1))", None, "-Fraction(abs(a), b + 1)"),
])
def test_printed_form_follows_the_type_of_each_part(text: str, want: str | None, printed: str) -> None:
    source = ex.to_python(ex.parse(text), kinds=KINDS, want=want)
    assert source == printed
    value = ex.evaluate(ex.parse(text), ENV)
    back = _run(source, ENV)
    if want == "float":
        assert back == [float(v) for v in value] if isinstance(value, list) else back == float(value)
    else:  # a whole fraction is an int to the evaluator; where an int is wanted it must be one in Python too
        assert back == value and (want != "int" or type(back) is int)


@pytest.mark.parametrize("text, bound, printed", [
    ("c ** n", {"c": -1.5}, "(-1.5) ** n"),  # a negative number is a minus: it binds looser than **
    ("c ** n", {"c": -3}, "Fraction(-3) ** n"),
    ("c * n", {"c": -3}, "-3 * n"),
    ("c / 3 * n", {"c": 2}, "Fraction(2, 3) * n"),
])
def test_a_folded_number_prints_with_the_brackets_its_sign_needs(text: str, bound: dict, printed: str) -> None:
    folded = ex.fold(ex.parse(text), bound)
    source = ex.to_python(folded, kinds={"n": "int"})
    assert source == printed
    for n in (2, 3):
        assert _run(source, {"n": n}) == ex.evaluate(ex.parse(text), {**bound, "n": n})


def test_a_folded_fraction_where_a_float_is_wanted_prints_as_that_float() -> None:
    folded = ex.fold(ex.parse("c / 3"), {"c": 2})
    assert ex.to_python(folded, want="float") == repr(2 / 3)


@pytest.mark.parametrize("text, bound, offset", [
    ("[a, x][i] / 2", {}, 10),  # an item of a list that is not all integers: int or float, not known
    ("c[i] / 2", {"c": [4, 1.5]}, 5),
    ("c[i] / 2", {"c": []}, 5),
])
def test_an_item_of_a_list_not_of_integers_is_not_divided_as_an_integer(text: str, bound: dict,
                                                                        offset: int) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.fold(ex.parse(text), bound), kinds=KINDS)
    assert (raised.value.offset, raised.value.length) == (offset, 1)
    assert raised.value.message == ("cannot print this exact '/' as Python: the types of its operands are "
                                    "not known here")


def test_an_item_of_a_folded_list_of_integers_divides_exactly() -> None:
    folded = ex.fold(ex.parse("c[i] / 2"), {"c": [4, 6]})
    assert ex.to_python(folded, kinds=KINDS) == "Fraction([4, 6][i], 2)"


def test_the_error_for_a_slash_of_unknown_types_underlines_the_slash() -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.parse("u / v"))
    assert (raised.value.offset, raised.value.length) == (2, 1)


@pytest.mark.parametrize("value, text", [
    ('it\'s "x"', '"it\'s \\"x\\""'),  # both quotes: only the double ones are escaped
    ("\\'", '"\\\\\'"'),  # a backslash before a quote stays a backslash
    ("a\\b", '"a\\\\b"'),
])
def test_python_literal_of_a_string_with_quotes_and_backslashes(value: str, text: str) -> None:
    assert ex.python_literal(value) == text
    assert eval(text) == value  # noqa: S307 (a literal the test wrote)


@pytest.mark.parametrize("want", ["int", "float"])
def test_a_joined_list_of_integers_where_numbers_are_wanted_prints_as_it_is(want: str) -> None:
    # a pair such as kernel_size may be a list: int() around it would fail when the module is built
    source = ex.to_python(ex.parse("[a] + [b, 3]"), kinds=KINDS, want=want)
    assert source == "[a] + [b, 3]"
    assert _run(source, ENV) == ex.evaluate(ex.parse("[a] + [b, 3]"), ENV)


@pytest.mark.parametrize("text, offset", [("[a / 2] + [1]", 8), ("[x] + [a]", 4), ("[a, x] + [a / 2]", 7)])
def test_a_joined_list_that_may_hold_fractions_where_ints_are_wanted_is_a_located_error(text: str,
                                                                                       offset: int) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.parse(text), kinds=KINDS, want="int")
    assert (raised.value.offset, raised.value.message, raised.value.hint) == (
        offset, "cannot print this list as Python where ints are wanted: its items may be fractions",
        "write the list out item by item: [a, b]")
