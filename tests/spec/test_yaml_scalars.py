"""YAML scalars: explicit tags and YAML 1.1's number forms give values or located errors, never tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import resolve_spec, validate_spec
from archspec.errors import SpecError
from archspec.spec.yaml_source import load_yaml_text


def value_of(text: str) -> object:
    return load_yaml_text(f"a: {text}\n", "scalars.yaml")["a"]


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as caught:
        value_of(text)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (1, 4)
    return diagnostic.headline()


@pytest.mark.parametrize("text, message", [
    ("!!bool 1", "'1' is not a boolean"),
    ("!!bool maybe", "'maybe' is not a boolean"),
    ("!!bool ''", "'' is not a boolean"),
    ("!!int ''", "'' is not an integer"),
    ("!!int '-'", "'-' is not an integer"),
    ("!!int 0x", "'0x' is not an integer"),
    ("!!int 1e3", "'1e3' is not an integer"),
    ("!!float '_'", "'_' is not a number"),
    ("!!float '.'", "'.' is not a number"),
    ("!!null 3", "'3' is not null"),
])
def test_explicit_tags_that_do_not_fit_their_text_are_located_errors(text: str, message: str) -> None:
    assert message in error_of(text)


@pytest.mark.parametrize("text, value", [
    ("1_000", 1000), ("0x1F", 31), ("0b101", 5), ("0o17", 15), ("-0o7", -7), ("!!int '0o17'", 15),
    ("!!float 3", 3.0), ("!!bool yes", True), ("!!str 017", "017"), ("'1:30'", "1:30"), ("0", 0),
])
def test_numbers_read_as_python_reads_them(text: str, value: object) -> None:
    result = value_of(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("text, read_as, hint", [
    ("017", "15", "write 17 for the decimal number, or 0o17 for octal"),
    ("1:30", "90", "write the number in base 10, or quote '1:30' for a string"),
    ("1:30.5", "90.5", None),
])
def test_yaml_1_1_forms_python_reads_otherwise_are_refused(text: str, read_as: str, hint: str | None) -> None:
    with pytest.raises(SpecError) as caught:
        value_of(text)
    (diagnostic,) = caught.value.diagnostics
    assert f"it would be read as {read_as})" in diagnostic.headline()
    assert hint is None or diagnostic.hint == hint


@pytest.mark.parametrize("tagged", ["!!bool 1", "!!int ''", "!!float '_'", "!!bool maybe"])
def test_tagged_attribute_is_located_in_validate_and_resolve(tmp_path: Path, tagged: str) -> None:
    spec = tmp_path / "tagged.yaml"
    line = f"  - conv: {{out: 4, kernel: 3, padding: {tagged}}}"
    spec.write_text(f"input: [3, 8, 8]\nbody:\n{line}\n")
    for stage in (validate_spec, resolve_spec):
        with pytest.raises(SpecError) as caught:
            stage(spec)
        (diagnostic,) = caught.value.diagnostics
        assert (diagnostic.span.line, diagnostic.span.column) == (3, line.index(tagged) + 1), stage.__name__
