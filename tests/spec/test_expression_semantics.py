"""The expression language where it is not Python's: exact fractions and their types, the checks of its
functions with their full messages, `make_divisible` against torchvision's at its edges, where an error
points (offset and width), `fold` keeping each node's place, and which names are identifiers."""

from __future__ import annotations

import keyword
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from archspec.compiler import validate_spec
from archspec.errors import SpecError
from archspec.spec import expr as ex


def value(text: str, env: dict[str, Any] | None = None) -> Any:
    return ex.evaluate(ex.parse(text), env or {})


def error(text: str, env: dict[str, Any] | None = None) -> ex.ExprError:
    with pytest.raises(ex.ExprError) as raised:
        value(text, env)
    return raised.value


# ---------------------------------------------------------------- exact numbers

@pytest.mark.parametrize("text, expected", [
    # an integer to a negative integer power is the exact fraction (Python gives a float)
    ("(-2) ** -3", Fraction(-1, 8)), ("(2 / 3) ** -2", Fraction(9, 4)), ("(1 / 2) ** 2", Fraction(1, 4)),
    ("1 ** -256", 1), ("2 ** -1 * 2", 1),
    # a fractional exponent leaves the exact numbers, as in Python
    ("4 ** (1 / 2)", 2.0), ("(1 / 4) ** (1 / 2)", 0.5),
    # a result that is whole is an integer, however it was reached
    ("(1 / 2) * 2", 1), ("6 / 3", 2), ("(1 / 3) / (1 / 3)", 1), ("1 / 3 * 3", 1), ("sum([1 / 3, 2 / 3])", 1),
    ("round(7 / 2, 0)", 4), ("(7 / 2) // 1", 3),
    # a float operand makes the arithmetic Python's float arithmetic
    ("1.0 / 2", 0.5), ("1 / 2.0", 0.5), ("1 / 3 + 0.0", 1 / 3),
    ("-(1 / 2)", Fraction(-1, 2)), ("+(1 / 2)", Fraction(1, 2)), ("abs(-1 / 2)", Fraction(1, 2)),
    ("(7 / 2) % 1", Fraction(1, 2)), ("(-7 / 2) // 1", -4),
    ("round(1 / 3, 2)", Fraction(33, 100)), ("round(5 / 2)", 2), ("round(-7 / 2)", -4),
    ("floor(-7 / 2)", -4), ("ceil(-7 / 2)", -3), ("int(7 / 2)", 3), ("float(1 / 3)", 1 / 3),
    ("str(1 / 2)", "1/2"), ("max(1 / 2, 1 / 3)", Fraction(1, 2)), ("min([1 / 2, 1])", Fraction(1, 2)),
    ("1 / 2 == 0.5", True), ("1 / 3 < 0.34", True), ("1 / 3 == 0.3333333333333333", False),
])
def test_exact_arithmetic_gives_the_exact_value_of_the_exact_type(text: str, expected: Any) -> None:
    result = value(text)
    assert result == expected and type(result) is type(expected), (text, result)


# ---------------------------------------------------------------- the functions' checks, with their messages

@pytest.mark.parametrize("text, offset, message", [
    ("make_divisible(true, 8)", 0, "make_divisible() needs a number, got True"),
    ("1 + make_divisible(10, 0)", 4, "make_divisible() needs a positive integer divisor, got 0"),
    ("make_divisible(10, -8)", 0, "make_divisible() needs a positive integer divisor, got -8"),
    ("make_divisible(10, 2.5)", 0, "make_divisible() needs a positive integer divisor, got 2.5"),
    ("make_divisible(10, 3 / 2)", 0, "make_divisible() needs a positive integer divisor, got 3/2"),
    ("make_divisible(10, true)", 0, "make_divisible() needs a positive integer divisor, got True"),
    ("make_divisible(10, 8, true)", 0, "make_divisible() needs an integer minimum, got True"),
    ("make_divisible(10, 8, '16')", 0, "make_divisible() needs an integer minimum, got '16'"),
    ("round(2, 1.5)", 0, "round() needs an integer number of digits, got 1.5"),
    ("round(2, true)", 0, "round() needs an integer number of digits, got True"),
    # one value that is not a list: Python's min('ab') is 'a' and min(3) an error, so the language takes neither
    ("min(3)", 0, "min() needs several values or one list, got 3"),
    ("2 * max('ab')", 4, "max() needs several values or one list, got 'ab'"),
    ("max(1 / 2)", 0, "max() needs several values or one list, got 1/2"),
    ("sum([true])", 0, "sum() needs a list of numbers, got [True]"),
    ("format(layers, 'd')", 0, "format() needs a number, string or boolean (make a fraction a float or an "
                               "integer first: float(), int(), round()), got [3, 4]"),
    ("format(1 / 2)", 0, "format() needs a number, string or boolean (make a fraction a float or an integer "
                         "first: float(), int(), round()), got 1/2"),
])
def test_a_function_refuses_what_it_cannot_take_with_its_name_and_the_value(text: str, offset: int,
                                                                           message: str) -> None:
    refused = error(text, {"layers": [3, 4]})
    assert (refused.offset, refused.message) == (offset, message)


def test_min_and_max_take_several_values_or_one_list_as_python_does() -> None:
    for text in ("min(3, 1, 2)", "max([3, 1, 2])", "max([1, 2], [3])", "min('b', 'a')", "max(2, 2.5)"):
        assert value(text) == eval(text), text  # noqa: S307 (the test's own literals)


@pytest.mark.parametrize("v, divisor, min_value", [
    (10, 1, None), (10, 4, None), (10, 3, None), (10, 9, None),  # 9 is exactly 10% below 10: kept
    (100, 8, 200), (3, 8, 1), (20, 8, 0), (0.5, 8, 0), (33.6, 8, 16), (7, 8, 24),
])
def test_make_divisible_is_torchvisions_at_its_edges(v: float, divisor: int, min_value: int | None) -> None:
    from torchvision.models._utils import _make_divisible

    text = f"make_divisible({v!r}, {divisor})" if min_value is None else \
        f"make_divisible({v!r}, {divisor}, {min_value})"
    assert value(text) == _make_divisible(v, divisor, min_value), text


def test_make_divisible_takes_a_whole_fraction_as_its_integer_divisor() -> None:
    assert value("make_divisible(10, 8 / 2)") == value("make_divisible(10, 4)") == 12


# ---------------------------------------------------------------- where an error points, and how wide

def test_an_error_underlines_one_character_and_an_unknown_name_the_whole_name() -> None:
    assert (error("layers[4]", {"layers": [1]}).offset, error("layers[4]", {"layers": [1]}).length) == (7, 1)
    unknown = error("2 * widht", {"width": 1})
    assert (unknown.offset, unknown.length, unknown.hint) == (4, 5, "did you mean 'width'?")
    too_long = ex.ExprError("x")
    assert (too_long.offset, too_long.length, too_long.hint) == (0, 1, None)


def test_an_expression_error_in_a_spec_points_into_the_expression(tmp_path: Path) -> None:
    line = '  - conv: {out: "2 * widht", kernel: 1}'
    spec = tmp_path / "typo.yaml"
    spec.write_text(f"input: [3, 8, 8]\nparams: {{width: 4}}\nbody:\n{line}\n")
    with pytest.raises(SpecError) as raised:
        validate_spec(spec)
    (first,) = raised.value.diagnostics
    assert first.message == "unknown name 'widht'"
    assert (first.span.line, first.span.column, first.span.length) == (4, line.index("widht") + 1, 5)
    (caret,) = [row for row in first.render().splitlines() if "^" in row]
    assert caret.endswith("| " + " " * line.index("widht") + "^^^^^")


def test_indexing_what_is_not_a_list_points_at_its_bracket(tmp_path: Path) -> None:
    line = '  - conv: {out: "2 * width[0]", kernel: 1}'
    spec = tmp_path / "index.yaml"
    spec.write_text(f"input: [3, 8, 8]\nparams: {{width: 4}}\nbody:\n{line}\n")
    with pytest.raises(SpecError) as raised:
        validate_spec(spec)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == "only lists and strings can be indexed"
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.span.length) == (4, line.index("[") + 1, 1)


def test_an_expression_is_at_most_2000_characters() -> None:
    assert value("1" + " " * (ex.MAX_LENGTH - 1)) == 1
    refused = error("1" + " " * ex.MAX_LENGTH)
    assert (refused.offset, refused.message) == (0, "expression is longer than 2000 characters")


# ---------------------------------------------------------------- fold keeps where each node was written

@pytest.mark.parametrize("text, bound, same_as", [
    ("x + a / b", {"x": 1}, "1 + a / b"),
    ("-(a + x)", {"x": 2}, "-(a + 2)"),
    ("a < x <= b", {"x": 3}, "a < 3 <= b"),
    ("a and x", {"x": 1}, "a and 1"),
    ("a if b else x", {"x": 4}, "a if b else 4"),
    ("max(a, x)", {"x": 5}, "max(a, 5)"),
    ("a[x]", {"x": 0}, "a[0]"),
    ("[a, x]", {"x": 7}, "[a, 7]"),
])
def test_fold_keeps_each_node_at_its_offset(text: str, bound: dict[str, Any], same_as: str) -> None:
    """As Jinja2's constant folding keeps the line: an error found later still points into the spec's text."""
    assert ex.fold(ex.parse(text), bound) == ex.parse(same_as)


def test_an_error_in_a_folded_expression_points_where_it_was_written() -> None:
    folded = ex.fold(ex.parse("x + a / b"), {"x": 1})
    with pytest.raises(ex.ExprError) as raised:
        ex.evaluate(folded, {"a": 1, "b": 0})
    assert (raised.value.offset, raised.value.message) == (6, "division by zero")


# ---------------------------------------------------------------- identifiers

@pytest.mark.parametrize("name", ["conv1", "_skip", "Bottleneck", "x", "layer_4", "match", "type"])
def test_a_python_name_is_an_identifier(name: str) -> None:
    assert ex.is_identifier(name)
    compile(f"{name} = 1", "<name>", "exec")  # Python takes it too


@pytest.mark.parametrize("name", ["class", "None", "True", "lambda", "if", "and", "1x", "a-b", "", "a b",
                                  "conv.1", "é", "naïve"])
def test_a_keyword_or_a_non_identifier_is_not_an_identifier(name: str) -> None:
    assert not ex.is_identifier(name)
    assert keyword.iskeyword(name) or not name.isidentifier() or not name.isascii()
