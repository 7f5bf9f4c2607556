"""Paths in `import` and `extends`, the spec's own path and --spec-path: whatever they hold (a NUL, a name
longer than the file system allows, a loop of symbolic links), a located error, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..cli import cli, tiny_spec

LONG = "x" * 300  # longer than the 255 bytes a file name may have on every common file system


def _errors(path: Path, **options: object) -> list[str]:
    with pytest.raises(SpecError) as raised:
        compile_spec(path, **options)
    return [d.headline() for d in raised.value.diagnostics]


@pytest.mark.parametrize("key", ["import", "extends"])
@pytest.mark.parametrize(("value", "problem"), [
    ('"blocks\\0.yaml"', "contains a NUL character"),
    (f"{LONG}.yaml", "longer than the file system allows"),
    (f"{LONG}/blocks.yaml", "longer than the file system allows"),
    ("loop.yaml", "symbolic links form a loop"),
])
def test_a_path_the_system_refuses_is_located(key: str, value: str, problem: str, tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").symlink_to("loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to("loop.yaml")
    spec = tmp_path / "net.yaml"
    spec.write_text(f"archspec: 1\n{key}: {value}\nname: net\ninput: [3, 8, 8]\nbody: [relu]\n")
    (headline,) = _errors(spec)
    assert headline.startswith(f"{spec}:2:{len(key) + 3}: error: ") and problem in headline


def test_a_spec_that_is_a_link_loop(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    (headline,) = _errors(tmp_path / "a.yaml")
    assert "symbolic links form a loop" in headline
    result = cli("validate", tmp_path / "a.yaml")
    assert result.exit_code == 1 and "symbolic links form a loop" in result.stderr


def test_a_spec_path_that_is_a_loop_or_missing_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "here").symlink_to("there")
    (tmp_path / "there").symlink_to("here")
    spec = tiny_spec(tmp_path)
    for folder, problem in ((tmp_path / "here", "symbolic links form a loop"), (tmp_path / "nowhere", "not a folder"),
                            (tmp_path / LONG, "longer than the file system allows")):
        result = cli("validate", spec, "--spec-path", folder)
        assert result.exit_code == 2 and problem in result.stderr, result.stderr
