"""The receptive-field pass reads each op's rule by name: a name it does not know is archspec's own error."""

from __future__ import annotations

from pathlib import Path

import pytest

import archspec
from archspec.ops import OPS

SPEC = """\
input: [3, 16, 16]
body:
  - conv: {out: 4, kernel: 3}
  - relu
"""


def test_an_unknown_named_rule_is_refused_naming_the_op(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(SPEC)
    assert archspec.load(path).receptive_fields().fields["relu"].size == (3, 3)
    monkeypatch.setattr(type(OPS["relu"]), "rf", lambda self, attrs, inputs: "pointwize")
    with pytest.raises(ValueError, match="op 'relu' gives the receptive-field rule 'pointwize'"):
        archspec.load(path).receptive_fields()
