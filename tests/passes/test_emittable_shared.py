"""A layer of a block that shares another's module (`share:`) is applied again, not built again: a shared
nested block, a shared conv and a shared functional op are all emittable."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.emittable import check_classes

NESTED = "  c:\n    body: [conv: {out: 4, kernel: 3, padding: 1}]\n"


@pytest.mark.parametrize("first, again", [
    ("c: {name: first}", "c: {name: again, share: first}"),
    ("conv: {name: first, out: 4, kernel: 1}", "conv: {name: again, share: first}"),
])
def test_shared_layer_of_a_block_is_emittable(tmp_path: Path, first: str, again: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(f"input: [4, 8, 8]\nblocks:\n{NESTED}  b:\n    body:\n      - {first}\n      - {again}\n"
                    "body: [b]\n")
    check_classes(compile_spec(path))
