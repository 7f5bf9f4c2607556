"""The CLI's exact output — stdout, stderr and exit code — for a few commands, text and --json.

The CLI is a view of the library: these goldens pin what it prints so that moving logic out of
`cli/` changes nothing a user or a script sees. Regenerate with ARCHSPEC_ACCEPT=1 (and read the diff).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

from ..conftest import ACCEPT, ROOT

GOLDEN = Path(__file__).parent / "golden"

BAD = "tests/bad_specs/add_channel_mismatch.yaml"
CASES = {
    "validate": ["validate", "specs/resnet/resnet18.yaml", "specs/unet/unet.yaml"],
    "validate_json": ["validate", "specs/resnet/resnet18.yaml", "--json"],
    "validate_input_rejected": ["validate", "specs/unet/unet.yaml", "--input", "1x100x100"],
    "build": ["build", "specs/resnet/resnet18.yaml", "-o", "{tmp}/resnet18.py"],
    "build_json_refused": ["build", "specs/resnet/resnet18.yaml", "-o", "{tmp}/notes.txt", "--json"],
    "render_dot": ["render", "specs/resnet/resnet18.yaml", "-o", "{tmp}/r.dot", "--show", "shapes,macs"],
    "render_json": ["render", "tests/bad_specs/add_channel_mismatch.yaml", "-o", "{tmp}/bad.dot", "--json"],
    "render_bad_level": ["render", "specs/resnet/resnet18.yaml", "-o", "{tmp}/r.svg", "--level", "stages"],
    "validate_bad": ["validate", BAD],
    "validate_bad_json": ["validate", BAD, "--json"],
    "build_check_missing": ["build", "specs/resnet/resnet18.yaml", "--check", "-o", "tests/cli/golden/absent.py"],
    "build_check_json": ["build", "specs/vgg/vgg11.yaml", "--check", "-o", "tests/golden/resnet18.py", "--json"],
    "summary": ["summary", "specs/resnet/resnet18.yaml"],
    "summary_json": ["summary", "specs/unet/unet.yaml", "--json", "--input", "3x188x188"],
    "resolve_json": ["resolve", "specs/resnet/resnet18.yaml", "--json"],
    "resolve_explain": ["resolve", "specs/vgg/vgg11_bn.yaml", "--explain"],
    "flops_stage": ["flops", "specs/resnet/resnet50.yaml", "--by", "stage", "--top", "3"],
    "flops_json": ["flops", "specs/segnet/segnet.yaml", "--json", "--by", "block"],
    "flops_sizes": ["flops", "specs/unet/unet.yaml", "--sizes", "572,100,188"],
    "flops_sizes_json": ["flops", "specs/resnet/resnet18.yaml", "--json", "--sizes", "224,320"],
    "rf": ["rf", "specs/unet/unet.yaml"],
    "rf_json": ["rf", "specs/resnet/resnet18_fpn.yaml", "--json"],
    "compare": ["compare", "specs/resnet/resnet18.yaml", "specs/resnet/resnet34.yaml"],
    "compare_json": ["compare", "specs/vgg/vgg11.yaml", "specs/vgg/vgg11_bn.yaml", "--json"],
    "sizes": ["sizes", "specs/unet/unet.yaml", "--range", "100:300"],
    "sizes_json": ["sizes", "specs/resnet/resnet18.yaml", "--range", "1:40", "--json"],
    "flops_bad_by": ["flops", "specs/resnet/resnet18.yaml", "--by", "group"],
    "summary_bad_input": ["summary", "specs/resnet/resnet18.yaml", "--input", "3x8x8"],
}


def _transcript(args: list[str], tmp: Path) -> str:
    """What a terminal shows for `args`; the temporary folder written as {tmp}."""
    (tmp / "notes.txt").write_text("my notes\n")
    result = CliRunner().invoke(app, [arg.replace("{tmp}", str(tmp)) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    text = f"$ archspec {' '.join(args)}\n[exit {result.exit_code}]\n[stdout]\n{result.stdout}[stderr]\n{result.stderr}"
    return text.replace(str(tmp), "{tmp}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_cli_output_is_unchanged(case: str, at_root: Path, tmp_path: Path) -> None:
    got = _transcript(CASES[case], tmp_path)
    path = GOLDEN / f"{case}.txt"
    if ACCEPT:
        path.write_text(got, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == got, f"`archspec {' '.join(CASES[case])}` prints something else"
