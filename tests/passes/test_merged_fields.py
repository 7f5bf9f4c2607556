"""A merge (add, mul, concat) of values whose units' fields are not centred alike is warned about, at the
merge, with its hint: the merged field is then a union of regions around different pixels."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.passes.receptive_field import receptive_fields

HINT = ("the merged field is the union; an output unit mixes input regions that are not centred on the same "
        "pixel")

CASES = {
    # unit o of the pool reads rows 2o … 2o + 6, of the conv o … o + 6: the same rows for unit 0, not for unit 1
    "different_jumps": "  - maxpool: {name: a, kernel: 7, stride: 2, ceil_mode: true, from: input}\n"
                       "  - conv: {name: b, out: 1, kernel: 7, from: input}\n",
    # the same jump, 2: unit 0 of a reads rows 0 … 1, of the upsampled b rows 0 … 3
    "different_centres": "  - conv: {name: a, out: 1, kernel: 2, stride: 2, from: input}\n"
                         "  - conv: {name: c, out: 1, kernel: 1, stride: 4, from: input}\n"
                         "  - upsample: {name: b, factor: 2}\n",
    # every other unit of the transposed conv reads no pixel (a stride past its kernel), every unit of c some
    "units_reading_nothing": "  - conv_transpose: {name: a, out: 1, kernel: 1, stride: 2, from: input}\n"
                             "  - upsample: {name: u, factor: 2, from: input}\n"
                             "  - conv: {name: b, out: 1, kernel: 2, from: u}\n",
    # both stride 1, fields of different sizes (1 and 5 rows) around the same row
    "aligned": "  - conv: {name: a, out: 1, kernel: 1, from: input}\n"
               "  - conv: {name: c, out: 1, kernel: 3, padding: 2, from: input}\n"
               "  - conv: {name: b, out: 1, kernel: 3, from: c}\n",
}


def _warnings(tmp_path: Path, case: str) -> tuple[int, list[tuple[int, str, str]]]:
    spec = tmp_path / f"{case}.yaml"
    text = "input: [1, 8, 8]\nbody:\n" + CASES[case] + "  - add: {name: sum, from: [a, b]}\n"
    spec.write_text(text)
    report = receptive_fields(compile_spec(spec))
    return text.count("\n"), [(d.span.line, d.message, d.hint) for d in report.diagnostics]


@pytest.mark.parametrize("case", ["different_jumps", "different_centres", "units_reading_nothing"])
def test_misaligned_inputs_of_a_merge_are_warned_about_along_each_axis(tmp_path: Path, case: str) -> None:
    add_line, warnings = _warnings(tmp_path, case)
    assert warnings == [(add_line, f"the inputs of 'sum' are misaligned along {axis}: their units' fields are not "
                                   "centred alike", HINT) for axis in ("h", "w")]


def test_inputs_centred_alike_merge_without_a_warning(tmp_path: Path) -> None:
    assert _warnings(tmp_path, "aligned")[1] == []
