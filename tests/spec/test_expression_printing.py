"""What code generation does with an expression before it prints it: folding what is known, the names it
still reads, and spec values written as Python literals. Each is checked against evaluation (a folded
expression has the value of the whole one) or against Python reading the text back."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import pytest

from archspec.spec import expr as ex

ENV = {"a": 3, "i": 1, "n": 5, "flag": True, "layers": [3, 4, 6, 3], "widths": [16, 24]}

# expression, the names bound when it is folded (the rest stay a block's constructor arguments)
FOLDED = [
    ("-(a * n)", {"a"}),
    ("-(a * n) - -n", {"n"}),
    ("-a + n", {"a"}),
    ("not (a > n)", {"a"}),
    ("layers[i] * n", {"layers", "i"}),
    ("layers[n - 2]", {"layers"}),
    ("layers[i] + widths[i]", {"widths"}),
    ("[a, n + 1, layers[0]]", {"a", "layers"}),
    ("a if flag else n", {"flag"}),
    ("a if n > 4 else i", {"a", "i"}),
    ("a < n <= 2 * a", {"a"}),
    ("flag and n > a", {"flag"}),
    ("max(a * 2, n)", {"a"}),
    ("n // a + a % 2", {"a"}),
    ("n > a and a > n", {"a"}),  # `and`, not `or`: false here
    ("a if not flag else n", {"flag"}),  # a false condition leaves the other branch
]


@pytest.mark.parametrize("text, bound", FOLDED, ids=[text for text, _ in FOLDED])
def test_fold_keeps_the_value_and_only_the_unbound_names(text: str, bound: set[str]) -> None:
    tree = ex.parse(text)
    folded = ex.fold(tree, {name: ENV[name] for name in bound})
    assert ex.names_in(folded) <= ex.names_in(tree) - bound  # a branch not taken reads nothing
    assert ex.evaluate(folded, ENV) == ex.evaluate(tree, ENV)


@pytest.mark.parametrize("text, bound, printed", [
    ("-(a * n)", {"a"}, "-(3 * n)"),
    ("-a + n", {"a"}, "-3 + n"),
    ("layers[i] * n", {"layers", "i"}, "4 * n"),
    ("layers[n - 2]", {"layers"}, "[3, 4, 6, 3][n - 2]"),
    ("[a, n + 1]", {"a"}, "[3, n + 1]"),
    ("a if flag else n", {"flag"}, "a"),  # the condition is known: only its branch is left
    ("a if n > 4 else i", {"a", "i"}, "3 if n > 4 else 1"),
])
def test_a_folded_expression_prints_with_its_known_values_written_in(text: str, bound: set[str],
                                                                      printed: str) -> None:
    folded = ex.fold(ex.parse(text), {name: ENV[name] for name in bound})
    assert ex.to_python(folded, kinds={"n": "int"}) == printed


def test_fold_of_a_fully_bound_expression_is_its_value() -> None:
    folded = ex.fold(ex.parse("layers[-1] * -a"), ENV)
    assert isinstance(folded, ex.Const) and folded.value == -9


@pytest.mark.parametrize("text, names", [
    ("a", {"a"}),
    ("-a", {"a"}),
    ("a + b * c", {"a", "b", "c"}),
    ("a < b < c", {"a", "b", "c"}),
    ("a and not b", {"a", "b"}),
    ("a if b else c", {"a", "b", "c"}),
    ("max(a, b)", {"a", "b"}),  # `max` is a function, not a name the expression reads
    ("xs[i]", {"xs", "i"}),
    ("[a, [b], 1]", {"a", "b"}),
    ("1 + 2", set()),
])
def test_names_in_is_every_parameter_an_expression_reads(text: str, names: set[str]) -> None:
    assert ex.names_in(ex.parse(text)) == names


@pytest.mark.parametrize("value", [
    (3,), (1, 2), (), [1, "two", 3.5], [], [[1], (2,)], "it's", 'say "hi"', True, None, -7, 0.1,
])
def test_python_literal_reads_back_as_the_same_value(value: Any) -> None:
    text = ex.python_literal(value)
    back = eval(text)  # noqa: S307 (a literal the test wrote)
    assert back == value and type(back) is type(value), text


@pytest.mark.parametrize("value, text", [
    ((3,), "(3,)"), ((1, 2), "(1, 2)"), ([1, "a"], '[1, "a"]'), ("it's", '"it\'s"'), ('say "hi"', '"say \\"hi\\""'),
    ("it's \"hi\"", '"it\'s \\"hi\\""'),  # both quotes: only the double one is escaped
])
def test_python_literal_writes_strings_in_double_quotes_and_a_one_tuple_with_its_comma(value: Any,
                                                                                      text: str) -> None:
    assert ex.python_literal(value) == text


def test_python_literal_writes_a_fraction_as_a_call_and_says_it_needs_the_import() -> None:
    needs: set[str] = set()
    assert ex.python_literal([Fraction(1, 3), 2], needs) == "[Fraction(1, 3), 2]"
    assert needs == {"Fraction"}
    assert ex.python_literal(Fraction(2, 3)) == "Fraction(2, 3)"  # without `needs`, nothing to record


def test_python_literal_refuses_what_code_cannot_hold() -> None:
    with pytest.raises(TypeError, match="cannot write dict into generated code"):
        ex.python_literal({"a": 1})


@pytest.mark.parametrize("text, value", [("true", True), ("True", True), ("false", False), ("False", False)])
def test_both_spellings_of_the_truth_values_parse(text: str, value: bool) -> None:
    tree = ex.parse(text)
    assert isinstance(tree, ex.Const) and tree.value is value
    assert ex.evaluate(ex.parse(f"1 if {text} else 2"), {}) == (1 if value else 2)


# ---------------------------------------------------------------- printing: forms the property test does not draw

INTS = {"a": "int", "b": "int", "i": "int", "xs": "list[int]", "s": "str", "t": "str", "x": "float"}


@pytest.mark.parametrize("text, want, printed", [
    ("a ** b", None, "Fraction(a) ** b"),  # b may be negative: the spec's power of integers is exact
    ("a ** 2", None, "a ** 2"),
    ("-(-a)", None, "--a"),
    ("a if (b if i else a) else b", None, "a if (b if i else a) else b"),  # Python takes no bare conditional there
    ("format(s + t, '>4')", None, 'format(s + t, ">4")'),  # a string, which format() takes
    ("format(format(a, 'd'), '>4')", None, 'format(format(a, "d"), ">4")'),
    ("xs[i]", "int", "xs[i]"),  # an item of a list of integers is an integer: no int() around it
    ("xs[a / 2]", None, "xs[int(Fraction(a, 2))]"),  # a whole fraction as an index: Python takes only an int
    ("[a, b][i]", "int", "[a, b][i]"),
    ("[a, b]", "int", "[a, b]"),
    ("[a, 6 / 2]", "int", "[a, int(Fraction(6, 2))]"),
    ("true", "int", "True"),
    ("true", "float", "True"),
    ("round(x * 2)", "int", "round(x * 2)"),  # Python's round of one number is already an int
    ("len(xs) / 2", None, "Fraction(len(xs), 2)"),  # a length is an int: its exact '/' can be printed
    ("a / 2 // 1", "int", "Fraction(a, 2) // 1"),  # a fraction floor-divided is an int
    ("a / 2 / b / 3", None, "Fraction(a, 2) / b / 3"),  # a fraction divided stays one: printable further on
    ("(a if i else b) if a > 2 else b", None, "(a if i else b) if a > 2 else b"),
    ("round(x, 1)", "float", "round(x, 1)"),
    ("abs(a) / 2", None, "Fraction(abs(a), 2)"),  # the absolute value of an int is an int: its '/' is exact
    ("abs(x) / 2", None, "abs(x) / 2"),  # and that of a float a float
    ("a / 3", "float", "float(Fraction(a, 3))"),  # a fraction where a float is wanted is converted
    ("a + 1", "float", "a + 1"),  # an int is one already as far as Python's arithmetic goes
    ("-(a / 3)", None, "-Fraction(a, 3)"),  # a call binds tighter than a minus
    ("(a / 3) ** 2", None, "Fraction(a, 3) ** 2"),
    ("-(a / 2 + b / 3)", None, "-(Fraction(a, 2) + Fraction(b, 3))"),  # starts and ends like one call, is two
    ("(a / 2 + b / 3) * 2", None, "(Fraction(a, 2) + Fraction(b, 3)) * 2"),
    ("not a > b", None, "not a > b"),  # `not` binds more loosely than a comparison, in both languages
    ("(not a) == b", None, "(not a) == b"),
    ("a ** 2 / 3", None, "Fraction(a ** 2, 3)"),  # an int to a natural power is an int: its '/' is exact
    # The type each form has in Python decides how a '/' over it prints (exact for ints, Python's otherwise)
    # and whether it is converted where an int or a float is wanted.
    ("a ** 0", None, "a ** 0"),  # 0 is a natural exponent too
    ("a ** b / i", None, "Fraction(a) ** b / i"),  # the exact power is a Fraction, whose '/' is exact
    ("a ** 0.5 / 2", None, "a ** 0.5 / 2"),  # a float power
    ("x ** 0.5 / a", None, "x ** 0.5 / a"),
    ("(x ** a) ** b", None, "(x ** a) ** b"),  # `**` groups to the right: the left one keeps its brackets
    ("x ** (a ** 2)", None, "x ** a ** 2"),  # and the right one needs none
    ("x * a / 2", None, "x * a / 2"),  # a float times an int is a float
    ("a * b / 2", None, "Fraction(a * b, 2)"),
    ("a / 2 * b", "int", "int(Fraction(a, 2) * b)"),  # a fraction times an int is a fraction
    ("a / 2 / b", "float", "float(Fraction(a, 2) / b)"),
    ("x / a", "float", "x / a"),  # already a float
    ("x // 2 / a", None, "x // 2 / a"),  # Python's `//` of a float is a float
    ("a // 2 / b", None, "Fraction(a // 2, b)"),
    ("floor(x) / 2", None, "Fraction(math.floor(x), 2)"),
    ("ceil(a / 3) / 2", None, "Fraction(math.ceil(Fraction(a, 3)), 2)"),
    ("round(x) / 2", None, "Fraction(round(x), 2)"),  # Python's round of one number is an int
    ("round(x, 1) / 2", None, "round(x, 1) / 2"),  # and with digits, of the number's type
    ("int(x) / 2", None, "Fraction(int(x), 2)"),
    ("float(a) / 2", None, "float(a) / 2"),
    ("min(a, b) / 2", None, "Fraction(min(a, b), 2)"),
    ("max(a, b) / 2", None, "Fraction(max(a, b), 2)"),
    ("min(xs) / 2", None, "Fraction(min(xs), 2)"),  # the least of a list of ints is an int
    ("max(xs) / 2", None, "Fraction(max(xs), 2)"),
    ("(xs + [a])[i] / 2", None, "Fraction((xs + [a])[i], 2)"),  # two lists of ints joined are one
    ("format(x, '.2f')", None, 'format(x, ".2f")'),  # format() takes a float, a bool, a string
    ("format(a > b)", None, "format(a > b)"),
    ("format(s[0], '>3')", None, 'format(s[0], ">3")'),  # an item of a string is a string
    ("format(str(a), '>3')", None, 'format(str(a), ">3")'),
    ("[a, b / 3]", "float", "[a, float(Fraction(b, 3))]"),  # each item of a list is converted
    ("x * 2", "int", "x * 2"),  # a float where an int is wanted is refused by the analysis, not converted
    ("a if b else b if i else a", None, "a if b else b if i else a"),  # Python needs no brackets there
    ("(a < b) == i", None, "(a < b) == i"),  # not the chain `a < b == i`
    ("a == (b < i)", None, "a == (b < i)"),
    ("-((a + b) * i / 2)", None, "-Fraction((a + b) * i, 2)"),  # one call, although it starts with a bracket
    ("-(a / len(xs))", None, "-Fraction(a, len(xs))"),  # and ends with one
])
def test_printed_form(text: str, want: str | None, printed: str) -> None:
    source = ex.to_python(ex.parse(text), kinds=INTS, want=want)
    assert source == printed
    env = {"a": 2, "b": -1, "i": 1, "xs": [5, 6], "s": "x", "t": "y", "x": 1.3}
    namespace = {"Fraction": Fraction, "math": math, **env}
    value = ex.evaluate(ex.parse(text), env)
    if want == "float":
        value = [float(v) for v in value] if isinstance(value, list) else float(value)
    assert eval(source, namespace) == value  # noqa: S307 (printed above)


@pytest.mark.parametrize("text, needs", [
    ("floor(a / 2)", {"math", "Fraction"}),
    ("ceil(x)", {"math"}),
    ("make_divisible(a * 1.5, 8)", {"_make_divisible"}),
    ("a ** -b", {"Fraction"}),
    ("a / 3 > 1", {"Fraction"}),
    ("a * 2 + len(xs)", set()),
])
def test_printed_source_records_the_imports_and_helpers_it_needs(text: str, needs: set[str]) -> None:
    found: set[str] = set()
    source = ex.to_python(ex.parse(text), kinds=INTS, needs=found)
    assert found == needs
    # what it records is what the source reads, and enough to run it
    import math

    helpers = {"math": math, "Fraction": Fraction, "_make_divisible": ex.PYTHON_HELPERS["_make_divisible"]}
    env = {"a": 5, "b": 2, "xs": [1, 2], "x": 1.5}
    assert eval(source, {**{name: helpers[name] for name in found}, **env}) == \
        ex.evaluate(ex.parse(text), env)  # noqa: S307 (printed above)


def test_the_helper_written_into_emitted_files_is_torchvisions_make_divisible() -> None:
    from typing import Optional

    from torchvision.models._utils import _make_divisible

    source = ex.helper_source("_make_divisible")
    assert not source.endswith("\n")  # the file's writer puts the blank lines between definitions
    # from the definition on: under mutation testing the function carries a decorator line
    namespace: dict[str, Any] = {"Optional": Optional}
    exec(source[source.index("def _make_divisible("):], namespace)  # noqa: S102 (the project's own helper)
    for value in (1, 7.5, 12, 30, 33.6, 100):
        for divisor, min_value in ((8, None), (3, None), (8, 16)):
            assert namespace["_make_divisible"](value, divisor, min_value) == \
                _make_divisible(value, divisor, min_value), (value, divisor, min_value)


EXACT_DIVISION = ("cannot print this exact '/' as Python: the types of its operands are not known here",
                  "convert the operands with int() or float()")
MIXED = {**INTS, "ys": "list"}  # a list parameter whose items may be of any type


@pytest.mark.parametrize("text, kinds, offset, message, hint", [
    ("a / b", {}, 2, *EXACT_DIVISION),
    ("a + format(a / 2)", {"a": "int"}, 4, "format() of a value that may be a fraction in the emitted code",
     "convert it first: format(int(x), ...), format(float(x), ...)"),
    # a value that is an int for some arguments and a float for others: its '/' has no one Python form
    ("[a, x][i] / 2", MIXED, 10, *EXACT_DIVISION),
    ("(a if i else x) / 2", MIXED, 16, *EXACT_DIVISION),
    ("(xs + ys)[i] / 2", MIXED, 13, *EXACT_DIVISION),  # a list of ints joined to a list of anything
    ("a ** ys[i] / 2", MIXED, 11, *EXACT_DIVISION),  # an int to a power of unknown type
    ("(a / 2) ** (b / 3) / 2", MIXED, 19, *EXACT_DIVISION),  # Python's power of two fractions is a float
])
def test_what_cannot_be_printed_is_a_located_error(text: str, kinds: dict, offset: int, message: str,
                                                   hint: str) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.parse(text), kinds=kinds)
    assert (raised.value.offset, raised.value.message, raised.value.hint) == (offset, message, hint)
    assert raised.value.length == 1  # the caret underlines the one-character operator (or the call's first)


def test_a_conversion_is_written_where_the_type_is_not_known_to_be_the_one_wanted() -> None:
    """Every name's type is known here (exactly the names read): a value that is a fraction for some
    arguments is converted to the int wanted."""
    kinds = {"a": "int", "b": "int", "i": "int"}
    assert ex.to_python(ex.parse("a / 2 if i else b"), kinds=kinds, want="int") == "int(Fraction(a, 2) if i else b)"
    # a name of unknown type: the caller vouches for it, nothing is added
    assert ex.to_python(ex.parse("a / 2 if i else q"), kinds=kinds, want="int") == "Fraction(a, 2) if i else q"


def test_an_unknown_node_is_an_internal_error_naming_it() -> None:
    with pytest.raises(AssertionError, match="^unhandled expression node Expr$"):
        ex.to_python(ex.Expr(0))


# expression, the values folded into it, the type wanted, what prints: a folded value prints as a literal of
# its own Python type, which decides the printed form around it as a parameter of that type would.
FOLDED_VALUES = [
    ("w / 3 / a", {"w": 1}, None, "Fraction(1, 3) / a"),  # a fraction: its '/' is exact already
    ("w / 3 / a", {"w": 1}, "float", "float(Fraction(1, 3) / a)"),
    ("w / 3", {"w": 1}, "float", "0.3333333333333333"),  # a fraction that is the whole value, as its float
    ("w / 3", {"w": 1}, None, "Fraction(1, 3)"),
    ("w / a", {"w": 0.5}, None, "0.5 / a"),
    ("w / a", {"w": 3}, None, "Fraction(3, a)"),
    ("w / a", {"w": 3}, "int", "int(Fraction(3, a))"),
    ("w", {"w": True}, "int", "True"),
    ("format(w + s, '>4')", {"w": "ab"}, None, 'format("ab" + s, ">4")'),
    ("ws[i] / 2", {"ws": [4, 6]}, None, "Fraction([4, 6][i], 2)"),  # an item of a list of ints
    ("ws[i]", {"ws": [4, 6]}, "int", "[4, 6][i]"),
    ("ws[i]", {"ws": [4, 0.5]}, "int", "int([4, 0.5][i])"),  # an item that is not known to be an int
    ("ws[i]", {"ws": [True, 2]}, "int", "int([True, 2][i])"),  # a bool is not an int in the spec
    ("z ** a", {"z": -2.5}, None, "(-2.5) ** a"),  # a negative number binds as loosely as a minus
    ("z ** a", {"z": 0.5}, None, "0.5 ** a"),
    ("z ** x", {"z": 0}, None, "0 ** x"),
]


@pytest.mark.parametrize("text, bound, want, printed", FOLDED_VALUES, ids=[f"{t}{b}" for t, b, _, _ in FOLDED_VALUES])
def test_a_folded_value_prints_as_a_literal_of_its_type(text: str, bound: dict[str, Any], want: str | None,
                                                         printed: str) -> None:
    needs: set[str] = set()
    source = ex.to_python(ex.fold(ex.parse(text), bound), kinds=INTS, want=want, needs=needs)
    assert source == printed
    assert needs == ({"Fraction"} if "Fraction" in source else set())  # the folded fraction's import too
    env = {"a": 3, "i": 0, "s": "x", "x": 1.3, **bound}  # where an int is wanted, the analysis saw one
    expected = ex.evaluate(ex.parse(text), env)
    assert eval(source, {"Fraction": Fraction, **env}) == (float(expected) if want == "float" else expected)  # noqa: S307


@pytest.mark.parametrize("bound", [{"ws": [4, 0.5]}, {"ws": [True, 2]}, {"ws": [Fraction(1, 2), 1]}])
def test_an_item_of_a_folded_list_not_all_ints_has_no_known_type(bound: dict[str, Any]) -> None:
    with pytest.raises(ex.ExprError) as raised:
        ex.to_python(ex.fold(ex.parse("ws[i] / 2"), bound), kinds=INTS)
    assert (raised.value.message, raised.value.hint) == EXACT_DIVISION
