"""The expression language against fixtures: each expression and the value it must have.

tests/spec/fixtures/expressions.txt holds the cases (expression, value, blank line), with the
environment they are evaluated in; where the expression is also Python, Python's own evaluation of
it is a second, independent reference.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from archspec.spec import expr

FIXTURES = Path(__file__).parent / "fixtures" / "expressions.txt"


def read_fixtures() -> tuple[dict[str, Any], list[tuple[str, str]]]:
    lines = FIXTURES.read_text(encoding="utf-8").splitlines()
    env_line = next(line for line in lines if line.startswith("# env: "))
    env = {name: expr.evaluate(expr.parse(value), {}) for name, value in
           (part.split(" = ") for part in re.split(r", (?=\w+ = )", env_line[len("# env: "):]))}
    body = "\n".join(line for line in lines if not line.startswith("#"))
    cases = [tuple(chunk.split("\n")) for chunk in body.strip().split("\n\n")]
    assert all(len(case) == 2 for case in cases), "a case is an expression line and a value line"
    return env, cases


ENV, CASES = read_fixtures()


def shown(value: Any) -> str:
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    return json.dumps(value)


def value_of(text: str) -> str:
    try:
        return shown(expr.evaluate(expr.parse(text), ENV))
    except expr.ExprError as error:
        return f"error at {error.offset}: {error}"


def as_python(text: str) -> bool:
    return ("/" not in text.replace("//", "") and not re.search(r"\b(true|false)\b", text)
            and "make_divisible" not in text)


@pytest.mark.parametrize("text, expected", CASES, ids=[text for text, _ in CASES])
def test_expression_value(text: str, expected: str) -> None:
    assert value_of(text) == expected
    if as_python(text) and not expected.startswith("error"):
        python = eval(text, {"__builtins__": {}}, {**ENV, "min": min, "max": max, "len": len, "abs": abs,
                                                         "sum": sum, "float": float, "round": round, "str": str,
                                                         "format": format, "int": int, "floor": math.floor, "ceil": math.ceil})
        assert shown(python) == expected, "Python evaluates it differently"


def test_fixtures_cover_every_operator_and_function() -> None:
    written = " ".join(text for text, _ in CASES)
    for token in ["+", "-", "*", "/", "//", "%", "**", "==", "!=", "<", ">", "and", "or", "not", "if", "[", *expr.FUNCTIONS]:
        assert token in written, f"no fixture uses '{token}'"
