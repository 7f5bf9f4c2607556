"""A crash is not a rejected spec: an unexpected exception exits 3, names the spec and the place being
processed, asks for a report, and under --json still prints a JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from . import cli, tiny_spec


def _crash_while_lowering(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug stand-in: the in-place pass, run at the end of lowering, raises."""
    import archspec.ir.lower

    def broken(network: object) -> None:
        raise KeyError("no such node")

    monkeypatch.setattr(archspec.ir.lower, "choose_inplace", broken)


@pytest.mark.parametrize("command", ["validate", "build", "summary", "flops", "rf", "resolve", "sizes", "render"])
def test_an_internal_error_exits_3_and_says_so(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _crash_while_lowering(monkeypatch)
    spec = tiny_spec(tmp_path)
    extra = ["-o", str(tmp_path / "out.svg")] if command == "render" else []
    result = cli(command, spec, *extra)
    assert result.exit_code == 3, result.stderr
    headline = result.stderr.splitlines()[0]
    assert f"{spec}:6:5: internal error: KeyError: 'no such node'" in headline  # the last layer lowered
    assert "please report it" in result.stderr and "Traceback" not in result.stderr
    document = json.loads(cli(command, spec, *extra, "--json").stdout)
    assert document["ok"] is False and document["internal_error"] is True
    (error,) = document["errors"]
    assert error["severity"] == "internal error" and error["file"] == str(spec) and error["line"] == 6
    assert "KeyError" in error["message"] and "archspec/" in error["message"]
    assert not (tmp_path / "out.svg").exists()


def test_a_crash_after_lowering_names_the_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec.passes import pipeline

    def broken(*args: object) -> None:
        raise ZeroDivisionError("division by zero")

    # The cost pass fails: the network lowered, so the message names the spec rather than a layer.
    monkeypatch.setattr(pipeline, "PASSES", tuple((name, broken if name == "cost" else run)
                                                  for name, run in pipeline.PASSES))
    spec = tiny_spec(tmp_path)
    result = cli("summary", spec)
    assert result.exit_code == 3
    assert "internal error: ZeroDivisionError: division by zero (raised in" in result.stderr
    assert str(spec) in result.stderr


def test_spec_errors_still_exit_1_and_usage_errors_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nbody:\n  - conv: {out: 4, kernal: 3}\n")
    assert cli("validate", bad).exit_code == 1
    assert cli("validate", tiny_spec(tmp_path), "--input", "big").exit_code == 2
