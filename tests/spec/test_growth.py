"""Work that must not grow with the size of the spec faster than the spec: counted, not timed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..conftest import ROOT


def _diamond(folder: Path, files: int, copies: int) -> Path:
    """f0 imports f1 `copies` times, f1 imports f2 `copies` times, …: copies**files paths, `files` files."""
    for k in range(files):
        imports = f"import: [{', '.join([f'f{k + 1}.yaml'] * copies)}]\n" if k < files - 1 else ""
        network = "name: net\ninput: [3, 8, 8]\nbody: [b0, b7]\n" if k == 0 else ""
        (folder / f"f{k}.yaml").write_text(f"archspec: 1\n{imports}blocks:\n  b{k}:\n    body: [relu]\n{network}")
    return folder / "f0.yaml"


def test_a_diamond_of_imports_costs_its_distinct_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import archspec.spec.loader as loader

    parsed = []
    real = loader._parse_blocks
    monkeypatch.setattr(loader, "_parse_blocks", lambda root, *rest: parsed.append(root) or real(root, *rest))
    network = compile_spec(_diamond(tmp_path, files=8, copies=4))  # 4**7 = 16,384 import paths
    assert [node.child.block for node in network.root.nodes] == ["b0", "b7"]
    assert len(parsed) <= 8, len(parsed)  # once per file (the spec itself included)


def test_disabled_items_count_towards_the_lowering_limit(tmp_path: Path) -> None:
    """2,000 items disabled with `if`, 100,000 times: refused before the first pass, not after 2 * 10^8
    evaluations (in a child with a deadline, since before the fix this ran for hours)."""
    spec = tmp_path / "disabled.yaml"
    spec.write_text("archspec: 1\nname: net\ninput: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: 1}\n"
                    "  - repeat:\n      count: 100000\n      body:\n" + "        - relu: {if: false}\n" * 2_000)
    result = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(spec)], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert f"{spec}:7:14: error: this repeat would evaluate 100,000 x 2,000 items" in result.stderr


def test_items_evaluated_are_counted_where_no_repeat_predicts_them(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Nested repeats each within the limit, evaluating more than it together: stopped at the limit, not
    after all 200 x 10 x 4 items."""
    import archspec.ir.lower as lower

    monkeypatch.setattr(lower, "MAX_ITEMS", 5_000)
    spec = tmp_path / "nested.yaml"
    spec.write_text("archspec: 1\nname: net\ninput: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernel: 1}\n"
                    "  - repeat:\n      count: 200\n      body:\n        - repeat:\n            count: 10\n"
                    "            body:\n" + "              - relu: {if: false}\n" * 4)
    with pytest.raises(SpecError) as raised:
        compile_spec(spec)
    (diagnostic,) = raised.value.diagnostics
    assert "past the limit of 5,000 items evaluated in all" in diagnostic.message
    assert diagnostic.span.line == 10  # the count of the inner repeat that would pass it
