"""The lowered IR of every shipped spec, as `archspec resolve --json` prints it.

Every module and layer with its attributes, where each came from, its inputs and its output shape at
the spec's input: a change in lowering (names, references, defaults, inferred channels, blocks,
repeats) fails here, named after the spec, before any pass or backend test. The golden is the
JSON document with one layer per line, so a diff shows the layer that changed. Regenerate with
ARCHSPEC_ACCEPT=1 and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import archspec

from ..conftest import ROOT, check_golden, shipped_specs

GOLDEN = Path(__file__).parent / "golden"
SPECS = shipped_specs()


def layer_lines(document: dict[str, Any]) -> str:
    """The document with its `body` written one layer per line, nested bodies indented under their layer."""
    lines = [json.dumps({key: value for key, value in document.items() if key != "body"}, sort_keys=False)]

    def walk(body: list[dict[str, Any]], depth: int) -> None:
        for layer in body:
            head = {key: value for key, value in layer.items() if key != "body"}
            lines.append("  " * depth + json.dumps(head))
            walk(layer.get("body", []), depth + 1)

    walk(document["body"], 0)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("spec", sorted(SPECS))
def test_lowered_ir(spec: str, at_root: Path) -> None:
    document = archspec.load(SPECS[spec].relative_to(ROOT)).resolved().to_json()
    check_golden(GOLDEN / f"{spec}.txt", layer_lines(document), f"the lowered IR of {spec}")
