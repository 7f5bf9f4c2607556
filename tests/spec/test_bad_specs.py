"""The catalogue of bad specs: each realistic mistake gives one located, readable error, never a traceback.

Every ``tests/bad_specs/NAME.yaml`` holds one mistake a student or researcher
makes (files starting with ``_`` are helpers: families to extend, files to
import). ``tests/bad_specs/expected.txt`` records, per case, how many errors it
gives and the headline of the first, exactly as the CLI prints it from the
repository root. After an intended change to a message, regenerate it with

    ARCHSPEC_ACCEPT=1 pytest tests/spec/test_bad_specs.py

and review the diff. ``tests/bad_specs/known_issues/`` holds mistakes whose
diagnostic is poor today (each file's header says how); they are only checked
not to crash, and move up into the catalogue once fixed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from archspec.compiler import validate_spec
from archspec.errors import Diagnostic, SpecError, printable

from ..conftest import ACCEPT, ROOT

BAD = ROOT / "tests" / "bad_specs"
EXPECTED = BAD / "expected.txt"
CASES = sorted(path.stem for path in BAD.glob("[!_]*.yaml"))
KNOWN_ISSUES = sorted(path.stem for path in (BAD / "known_issues").glob("[!_]*.yaml"))

HEADER = """\
# The first diagnostic of every case in tests/bad_specs/, and how many diagnostics it gives.
# Columns: case, error count, first headline (as `archspec validate` prints it from the repository root).
# Regenerate with: ARCHSPEC_ACCEPT=1 pytest tests/spec/test_bad_specs.py
"""


def spec_path(name: str) -> str:
    return f"tests/bad_specs/{name}.yaml"


def diagnostics(name: str) -> list[Diagnostic]:
    """The diagnostics of one case, as `archspec validate` finds them (code generation's checks included);
    run from the repository root."""
    with pytest.raises(SpecError) as raised:
        validate_spec(spec_path(name))
    return raised.value.diagnostics


def write_expectations() -> None:
    rows = []
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        for name in CASES:
            found = diagnostics(name)
            rows.append(f"{name:<36} {len(found):>2}  {found[0].headline()}")
    EXPECTED.write_text(HEADER + "\n".join(rows) + "\n")


def read_expectations() -> dict[str, tuple[int, str]]:
    expected = {}
    for line in EXPECTED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, count, headline = line.split(maxsplit=2)
            expected[name] = (int(count), headline)
    return expected


@pytest.fixture(scope="module")
def expectations() -> dict[str, tuple[int, str]]:
    if ACCEPT:
        write_expectations()
    return read_expectations()


def parser_dependent(headline: str) -> bool:
    """YAML syntax errors come from libyaml here; PyYAML's pure-Python parser words and places them differently."""
    return "malformed YAML" in headline and not getattr(yaml, "__with_libyaml__", False)


def test_catalogue_has_at_least_40_cases(expectations) -> None:
    assert len(CASES) >= 40
    assert sorted(expectations) == CASES, "cases and expected.txt disagree; regenerate with ARCHSPEC_ACCEPT=1"


@pytest.mark.parametrize("name", CASES)
def test_first_error_matches_expectation(name: str, expectations, at_root) -> None:
    count, headline = expectations[name]
    if parser_dependent(headline):
        pytest.skip("YAML syntax messages differ without libyaml")
    found = diagnostics(name)
    assert found[0].headline() == headline, f"{name}: if the new message is intended, ARCHSPEC_ACCEPT=1"
    assert len(found) == count, "\n".join(d.headline() for d in found)


@pytest.mark.parametrize("name", CASES)
def test_every_error_points_into_a_file_and_quotes_it(name: str, at_root) -> None:
    for diagnostic in diagnostics(name):
        span = diagnostic.span
        assert span.line > 0 and span.column > 0, diagnostic.headline()
        lines = Path(span.file).read_bytes().decode("utf-8", errors="replace").splitlines()
        assert span.line <= len(lines), f"{diagnostic.headline()}: past the end of the file"
        quoted = lines[span.line - 1].rstrip()
        assert f"{span.line:>5} | {printable(quoted)}" in diagnostic.render()
        assert span.column <= len(quoted) + 1, f"{diagnostic.headline()}: past the end of the line"


def test_a_huge_repeat_count_stops_lowering_at_once(at_root) -> None:
    """The layer limit unwinds lowering: one error, before any of the 10**7 copies is built."""
    start = time.perf_counter()
    found = diagnostics("repeat_count_huge")
    assert time.perf_counter() - start < 2
    assert len(found) == 1


@pytest.mark.parametrize("name", KNOWN_ISSUES)
def test_known_issue_does_not_crash(name: str, at_root) -> None:
    try:
        validate_spec(f"tests/bad_specs/known_issues/{name}.yaml")
    except SpecError:
        pass


def archspec(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})


CLI_CASES = ["misspelled_attribute", "add_channel_mismatch", "import_cycle", "duplicate_key",
             "unknown_parameter_in_variant"]


def test_cli_prints_located_errors_without_traceback(expectations) -> None:
    result = archspec("validate", *(spec_path(name) for name in CLI_CASES))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    for name in CLI_CASES:
        assert expectations[name][1] in result.stderr.splitlines(), name
    total = sum(expectations[name][0] for name in CLI_CASES)
    assert result.stderr.rstrip().endswith(f"{total} errors")


def test_cli_json_lists_located_errors(expectations, tmp_path: Path) -> None:
    name = "add_channel_mismatch"
    result = archspec("build", spec_path(name), "-o", str(tmp_path / "model.py"), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is False and document["errors"]
    first = document["errors"][0]
    assert f"{first['file']}:{first['line']}:{first['column']}: error: {first['message']}" == expectations[name][1]
    assert not (tmp_path / "model.py").exists()

    result = archspec("validate", spec_path(name), "--json")
    assert result.returncode == 1
    (spec,) = json.loads(result.stdout)["specs"]
    assert spec["ok"] is False
    assert all(e["file"] == spec_path(name) and e["line"] > 0 and e["column"] > 0 for e in spec["errors"])
