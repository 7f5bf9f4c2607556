"""How the printer writes function calls: the type of each call's result (`float()` a float, `str()` a
string, the `min`/`max` of a list of integers an integer, of a list of unknown items unknown) decides how
the code around it prints, and `format()` takes what Python's format takes without conversion (numbers,
strings, booleans; not a fraction). Each printed form is pinned as the emitted code shows it, and run by
Python against the evaluator."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

KINDS = {"a": "int", "b": "int", "x": "float", "xs": "list[int]", "ys": "list", "flag": "bool", "s": "str"}
ENV = {"a": 2, "b": 3, "x": 1.5, "xs": [5, 6, 7], "ys": [4, 9], "flag": True, "s": "ab"}


def runs_as_evaluated(source: str, text: str, want: str | None) -> None:
    """The printed source, run by Python, has the evaluator's value; an `int` where an int is wanted."""
    value = ex.evaluate(ex.parse(text), ENV)
    if want == "float" and isinstance(value, (int, Fraction)):
        value = float(value)
    actual = eval(source, {"Fraction": Fraction, **ENV})  # noqa: S307 (printed by the test)
    assert actual == value and isinstance(actual, float) == isinstance(value, float), (source, actual, value)
    if want == "int":
        assert type(actual) is int, (source, actual)


@pytest.mark.parametrize("text, want, printed", [
    ("float(a) / 2", None, "float(a) / 2"),  # a float's '/' is Python's
    ("format(float(a), '.1f')", None, 'format(float(a), ".1f")'),
    ("format(str(a), '>3')", None, 'format(str(a), ">3")'),  # a string, which format() takes
    ("format(str(a)[0], '>2')", None, 'format(str(a)[0], ">2")'),  # and a letter of one
    ("format(flag, '>6')", None, 'format(flag, ">6")'),  # a boolean, which format() takes
    ("format(a > b, '')", None, 'format(a > b, "")'),  # a comparison is a boolean
    ("format(len(s), '02d')", None, 'format(len(s), "02d")'),
    # the min or max of a list of integers is an integer: its '/' is exact, no int() where one is wanted
    ("max(xs) / 2", None, "Fraction(max(xs), 2)"),
    ("min(xs) / 4", None, "Fraction(min(xs), 4)"),
    ("max(xs)", "int", "max(xs)"),
    ("min(xs) + a", "int", "min(xs) + a"),
    # of a list parameter, whose items have no known type, it is converted as an item of it is
    ("max(ys)", "int", "int(max(ys))"),
    ("ys[0]", "int", "int(ys[0])"),
    ("max(ys)", "float", "float(max(ys))"),
])
def test_the_type_of_a_calls_result_decides_how_it_prints_further_on(text: str, want: str | None,
                                                                     printed: str) -> None:
    source = ex.to_python(ex.parse(text), kinds=KINDS, want=want)
    assert source == printed
    runs_as_evaluated(source, text, want)


@pytest.mark.parametrize("text", ["format(a / 2, '.1f')", "format(max(ys), 'd')", "format(ys[0], 'd')"])
def test_format_of_what_may_be_a_fraction_is_refused_at_the_call(text: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.parse("1 + " + text), kinds=KINDS)
    assert (raised.value.message, raised.value.offset) == (
        "format() of a value that may be a fraction in the emitted code", 4)

