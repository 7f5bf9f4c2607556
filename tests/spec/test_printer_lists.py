"""A list where an integer is wanted (a pair attribute given as `[h, w]`, a list parameter, a conditional
between them) prints as that list: Python's int() takes no list, so only a list literal's items are
converted, in whichever branch of a conditional they stand. The printed code, run by Python, gives the
evaluator's list, its items ints. (Emitted code once read `kernel_size=int(k)` for a list parameter `k`.)"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

KINDS = {"a": "int", "flag": "bool", "xs": "list[int]", "ys": "list"}
ENV = {"a": 6, "flag": True, "xs": [5, 5], "ys": [3, 1]}


@pytest.mark.parametrize("text, printed", [
    ("ys", "ys"),
    ("xs", "xs"),
    ("[a / 2, 3]", "[int(Fraction(a, 2)), 3]"),
    ("ys + [1]", "ys + [1]"),
    ("ys if flag else xs", "ys if flag else xs"),
    ("[5, 5] if flag else ys", "[5, 5] if flag else ys"),
    ("ys if flag else [a / 2, 1]", "ys if flag else [int(Fraction(a, 2)), 1]"),
    ("[a / 2, 3] if flag else ys", "[int(Fraction(a, 2)), 3] if flag else ys"),
    ("([a / 2, 1] if a > 1 else xs) if flag else ys", "([int(Fraction(a, 2)), 1] if a > 1 else xs) if flag else ys"),
    ("ys if (flag if a else a > 1) else [a / 3, 1]", "ys if (flag if a else a > 1) else [int(Fraction(a, 3)), 1]"),
    ("ys if flag else xs if a > 1 else [1, 1]", "ys if flag else xs if a > 1 else [1, 1]"),
    ("max(xs, ys)", "max(xs, ys)"),
    ("xs or ys", "xs or ys"),
])
@pytest.mark.parametrize("flag", [True, False])
def test_a_list_where_an_integer_is_wanted_prints_as_the_list(text: str, printed: str, flag: bool) -> None:
    source = ex.to_python(ex.parse(text), kinds=KINDS, want="int")
    assert source == printed
    env = {**ENV, "flag": flag}
    value = ex.evaluate(ex.parse(text), env)
    actual = eval(source, {"Fraction": Fraction, **env})  # noqa: S307 (printed by the test)
    assert actual == value and all(type(item) is int for item in actual), (source, actual, value)


@pytest.mark.parametrize("text, bound", [
    ("[w, 2] + ys", {"w": 1.5}),  # a list folded to a constant, not all integers
    ("[] + xs", {}),
    ("names + ['a']", {}),
])
def test_a_folded_list_joined_to_a_list_parameter_is_still_a_list(text: str, bound: dict[str, Any]) -> None:
    """Python computes what the evaluator computes, whatever is wanted: never int() of a list."""
    kinds = {**KINDS, "names": "list"}
    env = {**ENV, "names": ["b"], **bound}
    folded = ex.fold(ex.parse(text), bound)
    for want in (None, "int", "float"):
        source = ex.to_python(folded, kinds=kinds, want=want)
        assert "int(" not in source and "float(" not in source, source
        assert eval(source, env) == ex.evaluate(ex.parse(text), env)  # noqa: S307 (printed by the test)
