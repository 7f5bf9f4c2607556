"""Every refusal of a shape rule says exactly what tests/ir/fixtures/shape_errors.txt records: the message,
the hint and the line of each diagnostic, one case per rule (`test_shape_error[conv_groups]`). The catalogue
of bad specs keeps only each case's first headline; this pins the rest of the text a user reads.

After an intended change to a message: ARCHSPEC_ACCEPT=1 pytest tests/ir/test_shape_errors.py, then read the
diff of the fixture."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..conftest import ACCEPT

FIXTURE = Path(__file__).parent / "fixtures" / "shape_errors.txt"
HEADER_LINES = 4  # archspec, name, input, body: the first layer is on line 5


@dataclass
class Case:
    name: str
    input: str
    body: list[str]
    expected: list[str]

    def spec(self) -> str:
        layers = "".join(f"  {line}\n" for line in self.body)
        return f"archspec: 1\nname: {self.name}\ninput: {self.input}\nbody:\n{layers}"


def read_cases() -> tuple[list[str], list[Case]]:
    """The fixture's header comment and its cases, in order."""
    header, cases = [], []
    for line in FIXTURE.read_text().splitlines():
        if line.startswith("== "):
            cases.append(Case(line[3:], "", [], []))
        elif not cases:
            header.append(line)
        elif line.startswith("input: "):
            cases[-1].input = line[len("input: "):]
        elif line.startswith("- "):
            cases[-1].body.append(line)
        elif line.startswith("> "):
            cases[-1].expected.append(line[2:])
    return header, cases


def diagnostics_of(case: Case, folder: Path) -> list[str]:
    path = folder / f"{case.name}.yaml"
    path.write_text(case.spec())
    with pytest.raises(SpecError) as raised:
        compile_spec(path)
    found = []
    for diagnostic in raised.value.diagnostics:
        found.append(f"line {diagnostic.span.line}: {diagnostic.message}")
        found.append(f"  hint: {diagnostic.hint or '-'}")
    return found


def write_fixture(header: list[str], cases: list[Case], folder: Path) -> None:
    blocks = []
    for case in cases:
        case.expected = diagnostics_of(case, folder)
        lines = [f"== {case.name}", f"input: {case.input}", *case.body, *(f"> {line}" for line in case.expected)]
        blocks.append("\n".join(lines))
    FIXTURE.write_text("\n".join(header).rstrip("\n") + "\n\n" + "\n\n".join(blocks) + "\n")


HEADER, CASES = read_cases()


@pytest.fixture(scope="module")
def accepted(tmp_path_factory: pytest.TempPathFactory) -> None:
    if ACCEPT:
        write_fixture(HEADER, CASES, tmp_path_factory.mktemp("accept"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_shape_error(case: Case, accepted: None, tmp_path: Path) -> None:
    assert case.expected, f"{case.name} records no diagnostic; regenerate with ARCHSPEC_ACCEPT=1"
    assert diagnostics_of(case, tmp_path) == case.expected


def test_every_case_points_at_one_of_its_layers() -> None:
    for case in CASES:
        lines = {int(line.split(":")[0][len("line "):]) for line in case.expected if line.startswith("line ")}
        assert lines and all(HEADER_LINES < line <= HEADER_LINES + len(case.body) for line in lines), case.name
