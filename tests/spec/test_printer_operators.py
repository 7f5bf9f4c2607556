"""How the printer writes operators: the type it gives each result (a float stays a float through `**`,
`+`, `*` and `/`, a fraction through `+` and `-`) decides how the operators around it print, and a spec `/`
printed as one `Fraction(…)` call binds as a call does. Each printed form is pinned as the emitted code
shows it, and run by Python against the evaluator: the same value, of the same type."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

KINDS = {"a": "int", "b": "int", "x": "float", "xs": "list[int]"}
ENV = {"a": 2, "b": 3, "x": 1.5, "xs": [5, 6, 7]}


def runs_as_evaluated(source: str, text: str, want: str | None, env: dict[str, Any] = ENV) -> None:
    """The printed source, run by Python, has the value the evaluator gives: a float where it gives a
    float, an exact number where it gives one (a whole `Fraction` is the evaluator's int), and an `int`
    where an int is wanted (a `Fraction(4, 1)` would not do as a channel count)."""
    value = ex.evaluate(ex.parse(text), env)
    if want == "float" and isinstance(value, (int, Fraction)):
        value = float(value)
    actual = eval(source, {"Fraction": Fraction, **env})  # noqa: S307 (printed by the test)
    assert actual == value and isinstance(actual, float) == isinstance(value, float), (source, actual, value)
    if want == "int" and isinstance(value, int):
        assert type(actual) is int, (source, actual)


@pytest.mark.parametrize("text, want, printed", [
    # a float through each operator: its '/' is Python's, printable further on
    ("x ** 2 / 2", None, "x ** 2 / 2"),
    ("2 ** x / 2", None, "2 ** x / 2"),
    ("(x + 1) / 2", None, "(x + 1) / 2"),
    ("(a - x) / 2", None, "(a - x) / 2"),
    ("a * x / 4", None, "a * x / 4"),
    ("x // 1 / 2", None, "x // 1 / 2"),
    ("x / 2 / 4", None, "x / 2 / 4"),
    ("a / x / 2", None, "a / x / 2"),
    ("format(x / 2, '.2f')", None, 'format(x / 2, ".2f")'),  # a float, which format() takes
    # a float where an int or a float is wanted is left as it is (the analysis refuses the first)
    ("x", "int", "x"),
    ("x * a", "int", "x * a"),
    ("x / 2", "int", "x / 2"),
    ("x / 2", "float", "x / 2"),
    # a fraction through '+' and '-' stays one: an exact '/' of it, and int() where an int is wanted
    ("(a / 2 + 1) / 3", None, "(Fraction(a, 2) + 1) / 3"),
    ("(1 - a / 4) * 2 / 3", None, "(1 - Fraction(a, 4)) * 2 / 3"),
    ("a / 2 + 1", "int", "int(Fraction(a, 2) + 1)"),
    ("xs[a / 2 - 1]", None, "xs[int(Fraction(a, 2) - 1)]"),
    ("a / 2 + b", "float", "float(Fraction(a, 2) + b)"),
])
def test_the_type_of_an_operators_result_decides_how_it_prints_further_on(text: str, want: str | None,
                                                                          printed: str) -> None:
    source = ex.to_python(ex.parse(text), kinds=KINDS, want=want)
    assert source == printed
    runs_as_evaluated(source, text, want)


@pytest.mark.parametrize("text, printed", [
    # its arguments bracketed in turn: still one call, needing no brackets of its own
    ("-(abs(a) / 2)", "-Fraction(abs(a), 2)"),
    ("-(max(a, b) / 3)", "-Fraction(max(a, b), 3)"),
    ("(len(xs) / 2) ** 2", "Fraction(len(xs), 2) ** 2"),
    ("-(a / (b * (a + 1)))", "-Fraction(a, b * (a + 1))"),
    ("(a / (b - 1)) ** 2", "Fraction(a, b - 1) ** 2"),
    # two calls joined: the brackets do not close in order within `Fraction(` … `)`
    ("-(abs(a) / 2 + abs(b) / 3)", "-(Fraction(abs(a), 2) + Fraction(abs(b), 3))"),
])
def test_an_exact_division_printed_as_a_call_binds_as_one(text: str, printed: str) -> None:
    source = ex.to_python(ex.parse(text), kinds=KINDS)
    assert source == printed
    runs_as_evaluated(source, text, None)


@pytest.mark.parametrize("text, bound, printed", [
    ("a / 3", {"a": 1}, "0.3333333333333333"),
    ("-a / 8", {"a": 2}, "-0.25"),
])
def test_a_folded_fraction_where_a_float_is_wanted_is_written_as_that_float(text: str, bound: dict[str, int],
                                                                            printed: str) -> None:
    folded = ex.fold(ex.parse(text), bound)
    assert isinstance(folded, ex.Const) and isinstance(folded.value, Fraction)
    source = ex.to_python(folded, kinds=KINDS, want="float")
    assert source == printed
    assert eval(source) == float(ex.evaluate(ex.parse(text), bound))  # noqa: S307 (printed by the test)
