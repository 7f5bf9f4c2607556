"""A field that repeats only every more than MAX_PERIOD units is refused with a located error, not followed
(following it would cost time in proportion to the period)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.receptive_field import MAX_PERIOD, receptive_fields


def _upsampled(tmp_path: Path, factor: int) -> Path:
    # Upsampling by f makes f consecutive output units read one input unit: a period of f.
    spec = tmp_path / "upsampled.yaml"
    spec.write_text(f"input: [1, 1, 1]\nbody:\n  - upsample: {{name: up, factor: {factor}}}\n")
    return spec


def test_a_period_over_the_limit_is_a_located_error(tmp_path: Path) -> None:
    network = compile_spec(_upsampled(tmp_path, MAX_PERIOD + 1))
    with pytest.raises(SpecError) as raised:
        receptive_fields(network)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.message == ("the receptive field of 'up' repeats only every more than 4096 units; "
                                  "archspec does not follow it")
    assert diagnostic.span.line == 3


def test_a_period_at_the_limit_is_followed(tmp_path: Path) -> None:
    field = receptive_fields(compile_spec(_upsampled(tmp_path, MAX_PERIOD))).of("up")
    assert field.h.period == MAX_PERIOD and field.size == (1, 1)
