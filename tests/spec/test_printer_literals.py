"""Strings written into emitted code: always in double quotes, and read back by Python as the same string,
for every mix of quotes and backslashes (checked over all short strings of them)."""

from __future__ import annotations

import ast
import itertools

from archspec.spec import expr as ex


def test_every_string_of_quotes_and_backslashes_is_written_in_double_quotes_and_reads_back() -> None:
    for size in range(5):
        for chars in itertools.product("'\"\\a", repeat=size):
            value = "".join(chars)
            text = ex.python_literal(value)
            assert text.startswith('"') and text.endswith('"'), (value, text)
            assert ast.literal_eval(text) == value, (value, text)


def test_a_string_with_both_quotes_escapes_only_the_double_ones() -> None:
    assert ex.python_literal("it's \"x\"") == '"it\'s \\"x\\""'
