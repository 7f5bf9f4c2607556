"""Emitted source is stable: regenerate a few shipped specs and compare byte for byte.

Refresh the goldens after an intended change with ``ARCHSPEC_ACCEPT=1 pytest tests/backends/test_golden.py``.
"""

from __future__ import annotations

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import ACCEPT, ROOT

GOLDEN = ROOT / "tests" / "golden"
CASES = {
    "resnet18": "specs/resnet/resnet18.yaml",
    "resnet50": "specs/resnet/resnet50.yaml",
    "vgg16_bn": "specs/vgg/vgg16_bn.yaml",
    "alexnet": "specs/alexnet/alexnet.yaml",
    "skipnet": "tests/specs/skip_two_outputs.yaml",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_emitted_source_matches_golden(name: str, at_root) -> None:
    source = emit_pytorch(compile_spec(CASES[name]))
    golden = GOLDEN / f"{name}.py"
    if ACCEPT:
        golden.write_text(source)
    assert golden.read_text() == source, f"emitted code for {name} changed; if intended, ARCHSPEC_ACCEPT=1"


def test_emission_is_deterministic(at_root) -> None:
    first = emit_pytorch(compile_spec(CASES["resnet50"]))
    assert all(emit_pytorch(compile_spec(CASES["resnet50"])) == first for _ in range(3))
