"""The expression language: evaluation is bounded, and the Python it prints computes what it computes."""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspec.compiler import validate_spec
from archspec.errors import SpecError
from archspec.spec import expr as ex

from ..conftest import time_limit


HUGE = [
    "(((1/3)**256)**256)**2",          # once 6-13 s, then Python's integer-string limit
    "((((1/3)**256)**256)**256)**256",  # once no answer in 30 s
    "9 ** 9 ** 9",
    "(2 ** 100) ** 256",
    "2 ** -200",
    "(7/5) ** 256 * (5/7) ** 256",
    "1e300 ** 256",
    "round(1/3, 100000000)",
    "format(1, '999999999d')",
    "10 ** 40 * 10 ** 40",
    "1 / 10 ** 40 / 10 ** 40",
]


@pytest.mark.parametrize("text", HUGE)
def test_huge_values_are_refused_in_milliseconds(text: str) -> None:
    start = time.perf_counter()
    with time_limit(2), pytest.raises(ex.ExprError):
        ex.evaluate(ex.parse(text), {})
    assert time.perf_counter() - start < 0.1


def test_huge_value_in_a_spec_is_a_located_error(tmp_path: Path) -> None:
    spec = tmp_path / "huge.yaml"
    spec.write_text('input: [3, 8, 8]\nbody:\n  - conv: {out: "(((1/3)**256)**256)**2", kernel: 1}\n')
    with time_limit(5), pytest.raises(SpecError) as caught:
        validate_spec(spec)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (3, 25)  # the first `**`: (1/3)**256
    assert "more than 40 digits" in diagnostic.message


@pytest.mark.parametrize("text, value", [
    ("make_divisible(32 * 0.75, 8)", 24), ("make_divisible(3.1, 8)", 8), ("make_divisible(100 * 1.1, 8, 16)", 112),
    ("make_divisible(9, 8)", 16),  # 8 would be more than 10% below 9.
    ("round(2.5)", 2), ("round(7/2)", 4), ("round(-5/2)", -2), ("floor(-1/2)", -1), ("ceil(7/2)", 4),
    ("int(-7/2)", -3), ("float(1/4)", 0.25), ("sum([1/2, 1/2, 3])", 4), ("'conv'[0] + str(3)", "c3"),
    ("format(7, '02d')", "07"), ("2 ** -1", Fraction(1, 2)), ("1/3 + 2/3", 1), ("len('abc')", 3),
])
def test_functions_for_scaled_families(text: str, value: Any) -> None:
    result = ex.evaluate(ex.parse(text), {})
    assert result == value and type(result) is type(value)


def test_make_divisible_is_torchvisions() -> None:
    from torchvision.models._utils import _make_divisible

    for value in [v / 8 for v in range(1, 800, 7)] + [Fraction(v, 3) for v in range(1, 300, 11)]:
        for divisor in (1, 3, 8, 16):
            text = f"make_divisible({float(value)!r}, {divisor})" if isinstance(value, float) else \
                f"make_divisible({value.numerator} / {value.denominator}, {divisor})"
            assert ex.evaluate(ex.parse(text), {}) == _make_divisible(value, divisor), text


@pytest.mark.parametrize("text, message", [
    ("(-8) ** (1/3)", "not a real number"), ("int('3')", "int() needs a number, got '3'"),
    ("make_divisible(10, 0)", "a positive integer divisor"), ("format(1/3, '.2f')", "a number, string or boolean"),
    ("'ab'[2]", "out of range for a string of 2"),
    ("format(3, 'abc')", "format() needs a format such as '03d' or '.2f' (widths of at most 2 digits), got 'abc'"),
    ("make_divisible(10, 8, 1.5)", "make_divisible() needs an integer minimum, got 1.5"),
])
def test_function_misuse_is_an_error(text: str, message: str) -> None:
    with pytest.raises(ex.ExprError) as caught:
        ex.evaluate(ex.parse(text), {})
    assert message in caught.value.message


@pytest.mark.parametrize("function", ["abs", "float", "floor", "ceil", "round", "int"])
def test_a_function_given_a_non_number_is_named_in_the_message(function: str) -> None:
    with pytest.raises(ex.ExprError) as caught:
        ex.evaluate(ex.parse(f"{function}('w')"), {})
    assert caught.value.message == f"{function}() needs a number, got 'w'"


# the functions of the language reference's table (docs/spec-language.md)
DOCUMENTED_FUNCTIONS = {"min", "max", "sum", "len", "abs", "int", "round", "floor", "ceil", "float", "str",
                        "format", "make_divisible"}


def test_an_unknown_function_is_hinted_with_the_close_one_or_else_with_every_function() -> None:
    with pytest.raises(ex.ExprError) as caught:
        ex.evaluate(ex.parse("2 * sqrt(2)"), {})
    assert (caught.value.message, caught.value.offset) == ("unknown function 'sqrt'", 4)
    prefix = "available: "
    assert caught.value.hint.startswith(prefix)
    listed = caught.value.hint[len(prefix):].split(", ")
    assert sorted(listed) == sorted(DOCUMENTED_FUNCTIONS)
    with pytest.raises(ex.ExprError) as caught:
        ex.evaluate(ex.parse("roun(2)"), {})
    assert caught.value.hint == "did you mean 'round'?"


def test_non_integer_where_an_integer_is_needed_shows_the_value(tmp_path: Path) -> None:
    spec = tmp_path / "width.yaml"
    spec.write_text('input: [3, 8, 8]\nparams: {width: 0.3}\nbody:\n  - conv: {out: "10 * width", kernel: 1}\n')
    with pytest.raises(SpecError) as caught:
        validate_spec(spec)
    (diagnostic,) = caught.value.diagnostics
    assert "got '10 * width' (= 3.0)" in diagnostic.message
    assert "make_divisible" in diagnostic.hint


# ---------------------------------------------------------------- one semantics: evaluator and printed Python

KINDS = {"a": "int", "b": "int", "n": "int", "x": "float", "y": "float"}
VALUES = {"a": st.integers(-7, 7), "b": st.integers(-3, 12), "n": st.integers(0, 5),
          "x": st.sampled_from([0.5, -1.25, 3.0, 0.1, 2.5, -0.0]), "y": st.sampled_from([1e-3, 7.0, -2.5])}
LEAVES = st.one_of(st.sampled_from(sorted(KINDS)).map(lambda name: ex.Name(0, name)),
                   st.integers(-5, 9).map(lambda v: ex.Const(0, v)),
                   st.sampled_from([0.5, 1.5, -0.25]).map(lambda v: ex.Const(0, v)))


def conditions(children: st.SearchStrategy) -> st.SearchStrategy:
    """Truth values: comparisons (chained too), their negation and their `and`/`or`."""
    compare = st.builds(lambda ops, operands: ex.Compare(0, tuple(ops), tuple(operands[:len(ops) + 1])),
                        st.lists(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), min_size=1, max_size=2),
                        st.lists(children, min_size=3, max_size=3))
    return st.one_of(compare, st.builds(lambda c: ex.Unary(0, "not", c), compare),
                     st.builds(lambda op, a, b: ex.BoolOp(0, op, (a, b)), st.sampled_from(["and", "or"]),
                               compare, compare))


def expressions(depth: int) -> st.SearchStrategy:
    """Numbers: trees at most `depth` operators deep over every documented operator and number function
    (booleans are never used as numbers, which the analysis refuses before any code is written)."""
    if depth == 0:
        return LEAVES
    children = expressions(depth - 1)
    binary = st.builds(lambda op, left, right: ex.Binary(0, op, left, right),
                       st.sampled_from(["+", "-", "*", "/", "//", "%", "**"]), children, children)
    unary = st.builds(lambda op, operand: ex.Unary(0, op, operand), st.sampled_from(["-", "+"]), children)
    conditional = st.builds(lambda c, t, o: ex.IfElse(0, c, t, o), conditions(children), children, children)
    either = st.builds(lambda op, a, b: ex.BoolOp(0, op, (a, b)), st.sampled_from(["and", "or"]), children, children)
    call = st.one_of(
        st.builds(lambda f, arg: ex.Call(0, f, (arg,)),
                  st.sampled_from(["int", "round", "floor", "ceil", "abs", "float"]), children),
        st.builds(lambda f, a, b: ex.Call(0, f, (a, b)), st.sampled_from(["min", "max"]), children, children),
        st.builds(lambda v, d: ex.Call(0, "make_divisible", (v, ex.Const(0, d))), children, st.integers(1, 8)),
        st.builds(lambda v, d: ex.Call(0, "round", (v, ex.Const(0, d))), children, st.integers(-1, 3)))
    return st.one_of(binary, binary, binary, binary, children, unary, conditional, either, call)


NUMBERS = expressions(3)
EXPRESSIONS = st.one_of(NUMBERS, conditions(expressions(2)))


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    return "float" if isinstance(value, float) else ("exact" if isinstance(value, (int, Fraction)) else "other")


def _bound(error: ex.ExprError) -> bool:
    """Refusals for size, which Python (with no such bounds) is not expected to share."""
    return any(words in error.message for words in ("too large", "too fine", "40 digits", "more than 40"))


@settings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck),
          report_multiple_bugs=False)
@given(EXPRESSIONS, st.fixed_dictionaries(VALUES), st.sampled_from([None, "int", "float"]))
def test_printed_python_computes_what_the_evaluator_computes(tree: ex.Expr, env: dict[str, Any],
                                                             want: str | None) -> None:
    needs: set[str] = set()
    source = ex.to_python(tree, kinds=KINDS, want=want, needs=needs)
    assert needs <= set(ex.PYTHON_IMPORTS) | set(ex.PYTHON_HELPERS)
    compile(source, "<printed>", "eval")
    namespace = {"Fraction": Fraction, "math": math, "_make_divisible": ex._make_divisible, **env}
    try:
        expected = ex.evaluate(tree, env)
    except ex.ExprError as error:
        if not _bound(error):
            with time_limit(2), pytest.raises((ArithmeticError, TypeError, ValueError)):
                eval(source, namespace)  # noqa: S307 (our own printed code)
        return
    if want == "int" and not (_category(expected) == "exact" and isinstance(expected, int)):
        return  # the analysis refuses anything but an integer there; nothing is emitted for it
    with time_limit(2):
        actual = eval(source, namespace)  # noqa: S307
    if want == "int":
        assert type(actual) is int, (source, actual)
    if want == "float" and _category(expected) == "exact":
        expected = float(expected)
        if isinstance(actual, (int, Fraction)):
            actual = float(actual)
    assert _category(actual) == _category(expected), (source, env, expected, actual)
    assert actual == expected or (expected != expected and actual != actual), (source, env, expected, actual)
