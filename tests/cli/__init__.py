"""End-to-end tests of the `archspec` command, run in-process (a subprocess costs a fresh interpreter)."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from tests.conftest import ROOT

RESNET18 = ROOT / "specs" / "resnet" / "resnet18.yaml"
TINY = """\
archspec: 1
name: {name}
input: [3, 8, 8]
body:
  - conv: {{name: c1, out: 4, kernel: 3, padding: 1}}
  - relu
"""


def cli(*args: str | Path) -> Result:
    """Run `archspec ARGS` in this process; the result has exit_code, stdout, stderr and stdout_bytes."""
    from cli.main import app

    return CliRunner().invoke(app, [str(arg) for arg in args], catch_exceptions=False)


def tiny_spec(folder: Path, name: str = "tiny", file: str | None = None) -> Path:
    """A three-layer spec named `name` in `folder`."""
    path = folder / (file or f"{name}.yaml")
    path.write_text(TINY.format(name=name))
    return path
