"""Graphviz runs in a child with a time bound: past it, the child is stopped and the user told what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..cli import cli, tiny_spec


def test_a_layout_past_the_time_bound_is_stopped_with_a_clear_message(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import archspec.backends.diagram.engine as engine

    monkeypatch.setattr(engine, "LAYOUT_SECONDS", 0.0)
    children_before = _children()
    result = cli("render", tiny_spec(tmp_path), "-o", tmp_path / "d.svg")
    assert result.exit_code == 1
    assert "Graphviz did not finish laying out this diagram within 0 s" in result.stderr
    assert "coarser --level" in result.stderr and "'.dot'" in result.stderr
    assert not (tmp_path / "d.svg").exists()
    assert _children() == children_before  # the child was stopped and reaped
    assert cli("render", tiny_spec(tmp_path), "-o", tmp_path / "d.dot").exit_code == 0  # DOT needs no layout


def _children() -> set[str]:
    """The process ids of this process's children (Linux), or an empty set elsewhere."""
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return set(path.read_text().split()) if path.exists() else set()
