"""Messages: located where the problem is, safe to print, and cheap to make."""

from __future__ import annotations

import difflib

import pytest

from archspec.compiler import compile_spec
from archspec.errors import Diagnostic, Span, SpecError, did_you_mean

from ..conftest import ROOT


def test_did_you_mean_among_thousands_compares_a_bounded_number(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting comparisons, not time: before, each misspelling was compared with all 2,000 parameters."""
    compared = []

    class Counting(difflib.SequenceMatcher):
        def set_seq1(self, a: object) -> None:
            compared.append(a)
            super().set_seq1(a)

    monkeypatch.setattr(difflib, "SequenceMatcher", Counting)
    with pytest.raises(SpecError) as raised:
        compile_spec(ROOT / "tests/bad_specs/misspelled_parameter_among_thousands.yaml")
    hints = [d.hint for d in raised.value.diagnostics]
    assert len(hints) == 50 and hints[0] == "did you mean 'width_of_layer_0'?"
    assert hints[-1] == "did you mean 'width_of_layer_1960'?"
    assert len(compared) <= 50 * 200, len(compared)


def test_did_you_mean_finds_a_typo_at_either_end() -> None:
    names = [f"layer{i}_conv" for i in range(3000)] + ["classifier"]
    assert did_you_mean("layer2917_cnov", names) == "did you mean 'layer2917_conv'?"
    assert did_you_mean("klassifier", names) == "did you mean 'classifier'?"
    assert did_you_mean("classifeir", names) == "did you mean 'classifier'?"
    assert did_you_mean("xyz", names) is None


def test_terminal_control_sequences_are_escaped() -> None:
    from archspec.errors import printable

    diagnostic = Diagnostic("unknown op 'relu\x1b[2J\x1b]0;title\x07\x9b'", Span("a.yaml", 1, 1),
                            hint="try \x1b[31mred")
    text = diagnostic.render()
    assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in text)
    assert "relu\\x1b[2J\\x1b]0;title\\x07\\x9b" in text and "try \\x1b[31mred" in text
    assert printable("tab\tstays, é and ✓ stay") == "tab\tstays, é and ✓ stay"


@pytest.mark.parametrize(("written", "whole"), [("out: 64.0", "64"), ("out: 1e2", "100")])
def test_a_whole_float_where_an_integer_is_wanted_says_how_to_write_it(written: str, whole: str,
                                                                       tmp_path) -> None:
    spec = tmp_path / "float.yaml"
    spec.write_text(f"archspec: 1\nname: n\ninput: [3, 8, 8]\nbody:\n  - conv: {{kernel: 1, {written}}}\n")
    with pytest.raises(SpecError) as raised:
        compile_spec(spec)
    (diagnostic,) = raised.value.diagnostics
    assert "must be an integer" in diagnostic.message
    assert diagnostic.hint.startswith(f"write {whole}, not {float(whole)!r}: a number with a decimal point")
