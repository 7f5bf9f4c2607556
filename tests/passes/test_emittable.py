"""The emittability pass (`passes/emittable.py`): what the PyTorch file needs, checked on the IR alone.

Each case is one spec with one construct the file cannot hold, the check that refuses it (the function of
the pass that raises), and the located headline `archspec validate` prints. Then: `validate` never
imports the PyTorch backend, and lowers each block definition once.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from archspec.compiler import compile_spec, validate_spec
from archspec.errors import SpecError
from archspec.passes.emittable import check_classes

from ..conftest import ROOT, shipped_specs

BLOCK_LIST = "input: [3, 8, 8]\nblocks:\n  b:\n"

# check -> (spec text, the headline after "file:")
CASES = {
    "claim_name": (
        "name: Net\nclass: Net\ninput: [3, 8, 8]\nbody: [relu]\n",
        "2:8: error: cannot generate PyTorch code: the network class would be named 'Net', which is already the "
        "factory function (the spec name)"),
    "detector_settings": (
        "input: [3, 8, 8]\nparams: {classes: 3}\nbody:\n  - conv: {name: head, out: 2 * (5 + classes), kernel: 1}\n"
        "detect:\n  kind: yolov2\n  classes: classes * 2 / 2\n"
        "  levels:\n    - {output: head, stride: 1, anchors: [[1, 1], [2, 3]]}\n",
        "7:12: error: cannot generate PyTorch code: cannot print this exact '/' as Python: the types of its "
        "operands are not known here"),
    "block": (  # the block definition lowered as one class
        BLOCK_LIST + "    body:\n      - group: {name: g, body: [relu]}\nbody: [b]\n",
        "5:9: error: cannot write the block as one class: a 'group' inside a block definition is not supported"),
    "module_form": (
        "input: [4, 8, 8]\nbody:\n  - seq: {body: [conv: {out: 4, kernel: 1}, channel_shuffle: {groups: 2}]}\n",
        "3:45: error: cannot generate PyTorch code: 'channel_shuffle' cannot be an element of a 'seq'"),
    "applied_as_module": (
        BLOCK_LIST + "    body:\n      - seq: {name: s, body: [conv: {out: 4, kernel: 1}, scale]}\nbody: [b]\n",
        "5:58: error: cannot generate PyTorch code: 'scale' cannot be an element of a 'seq'"),
    "printable": (
        BLOCK_LIST + "    params: {sizes: [4, 8]}\n    body:\n      - conv: {out: \"sizes[0] / 2\", kernel: 1}\n"
        "body: [b]\n",
        "6:9: error: cannot generate PyTorch code: cannot print this exact '/' as Python: the types of its "
        "operands are not known here"),
    "network_expressions": (
        "name: net\ninput: [3, 8, 8]\nparams: {width: 8}\nbody:\n  - conv: {out: width / 2, kernel: 1}\n",
        "5:17: error: cannot generate PyTorch code: cannot print this exact '/' as Python: the types of its "
        "operands are not known here"),
    "not_listed": (
        BLOCK_LIST + "    params: {extra: true}\n    body:\n"
        "      - conv: {name: heads.0, out: 4, kernel: 1, from: input}\n"
        "      - conv: {name: heads.1, out: 4, kernel: 1, from: input, if: extra}\n"
        "      - add: {from: [heads.0, heads.1]}\nbody: [b]\n",
        "7:9: error: cannot generate PyTorch code: a layer of a module list cannot depend on the block's "
        "parameters"),
    "flag_is_free": (
        "input: [4, 8, 8]\nblocks:\n  b:\n    params: {shortcut: true}\n    body:\n"
        "      - conv: {name: use_sum, out: 4, kernel: 1}\n"
        "      - add: {name: sum, from: [use_sum, input], if: shortcut}\nbody: [b]\n",
        "7:9: error: cannot generate PyTorch code: 'use_sum' would hold whether 'sum' runs, but it is a layer "
        "name"),
    "channels_known": (
        "input: [3, 4, 4]\nblocks:\n  head:\n    body: [linear: {out: 4}]\n  b:\n    body: [flatten, head]\n"
        "body: [b]\n",
        "6:21: error: cannot generate PyTorch code: cannot tell the input channels of this block"),
}


# The hint of each refusal that has one: an expression that does not print keeps the printer's.
CONVERT = "convert the operands with int() or float()"
HINTS = {
    "claim_name": "give each class and the spec a different name",
    "block": "use a nested block there: it is a sub-network with parameters",
    "flag_is_free": "rename one of the two",
    **dict.fromkeys(["detector_settings", "printable", "network_expressions", "nested_block_argument",
                     "nested_block_input_channels", "chosen_block_argument", "detector_settings_second_key"], CONVERT),
}


def raising_check(error: SpecError) -> str:
    """The function of the pass that raised the error: the innermost frame in passes/emittable.py."""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if Path(frame.filename).as_posix().endswith("archspec/passes/emittable.py")]
    name = frames[-1].name
    # under mutation testing each function runs as a renamed copy: `xǁClassǁname__mutmut_orig`, `x_name__mutmut_3`
    renamed = re.fullmatch(r"x(?:ǁ[^ǁ]+ǁ|_)(.+?)__mutmut_\w+", name)
    return renamed.group(1) if renamed else name


@pytest.mark.parametrize("check", CASES)
def test_each_check_refuses_its_construct_with_a_located_error(check: str, tmp_path: Path) -> None:
    text, headline = CASES[check]
    path = tmp_path / f"{check}.yaml"
    path.write_text(text)
    network = compile_spec(path)  # the spec itself is sound: lowering accepts it
    with pytest.raises(SpecError) as raised:
        check_classes(network)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.headline() == f"{path}:{headline}"
    assert diagnostic.hint == HINTS.get(check)
    assert raising_check(raised.value) == check


# Where the refusals point that another function of the pass raises: the layer whose constructor call
# would hold the expression (a nested block's arguments and input channels, a `$param` block's), the
# detector setting itself. Spec text -> the headline after "file:".
INNER = "  inner:\n    params: {ratio: 2}\n    body: [conv: {out: in_channels / ratio, kernel: 1}]\n"
PLAIN_AND_POOL = "input: [4, 4, 4]\nblocks:\n  plain:\n    body: [conv: {out: 4, kernel: 1}]\n" \
    "  pool:\n    body: [maxpool: {kernel: 1}]\n"
UNKNOWN_CHANNELS = "flatten, unflatten: {shape: [4, 4, 4]}"  # after them no expression of the channels
NOT_PRINTABLE = "cannot generate PyTorch code: cannot print this exact '/' as Python: the types of its operands " \
    "are not known here"
LOCATED = {
    "nested_block_argument": (
        "input: [4, 8, 8]\nblocks:\n" + INNER + "  b:\n    params: {sizes: [4, 8]}\n    body:\n      - relu\n"
        "      - inner: {ratio: \"sizes[0] / 2\"}\nbody: [b]\n",
        f"10:9: error: {NOT_PRINTABLE}"),
    # `inner`'s output channels, in_channels / sizes[0], are the next block's input channels
    "nested_block_input_channels": (
        "input: [4, 8, 8]\nblocks:\n" + INNER + "  head:\n    body: [conv: {out: 3, kernel: 1}]\n"
        "  b:\n    params: {sizes: [2, 8]}\n    body:\n      - inner: {ratio: \"sizes[0]\"}\n      - head\n"
        "body: [b]\n",
        f"12:9: error: {NOT_PRINTABLE}"),
    "chosen_block_argument": (
        "input: [4, 4, 4]\nblocks:\n  plain:\n    params: {out: 4}\n    body: [conv: {out: out, kernel: 1}]\n"
        "  wide:\n    params: {out: 4}\n    body: [conv: {out: out * 2, kernel: 1}]\n"
        "  stage:\n    params: {unit: str, sizes: [8, 2]}\n    body:\n      - $unit: {out: \"sizes[0] / 2\"}\n"
        "body:\n  - stage: {unit: plain}\n  - stage: {unit: wide}\n",
        f"12:9: error: {NOT_PRINTABLE}"),
    "chosen_block_input_channels": (  # `plain` reads its input channels, so the call must pass them
        PLAIN_AND_POOL + f"  stage:\n    params: {{unit: str}}\n    body: [{UNKNOWN_CHANNELS}, $unit]\n"
        "body:\n  - stage: {unit: pool}\n  - stage: {unit: plain}\n",
        "9:52: error: cannot generate PyTorch code: cannot tell the input channels of this block"),
    # `{"plain": Plain, "pool": Pool}[unit](in_channels)` is one call, so Pool takes the channels too,
    # and a later `pool` whose input channels are no expression cannot be built
    "chosen_block_channels_for_every_choice": (
        PLAIN_AND_POOL + "  stage:\n    params: {unit: str}\n    body: [$unit]\n"
        f"  late:\n    body: [{UNKNOWN_CHANNELS}, pool]\n"
        "body:\n  - stage: {unit: plain}\n  - stage: {unit: pool}\n  - late\n",
        "11:52: error: cannot generate PyTorch code: cannot tell the input channels of this block"),
    # the first setting written as a value, the second as an expression that does not print
    "detector_settings_second_key": (
        "input: [3, 2, 2]\nparams: {b: 1}\nbody:\n  - flatten\n  - linear: {name: head, out: 5 * b + 3}\n"
        "detect:\n  kind: yolov1\n  classes: 3\n  boxes_per_cell: b * 2 / 2\n"
        "  levels:\n    - {output: head, stride: 2}\n",
        f"9:19: error: {NOT_PRINTABLE}"),
}


@pytest.mark.parametrize("case", LOCATED)
def test_each_refusal_points_at_the_layer_or_setting(case: str, tmp_path: Path) -> None:
    text, headline = LOCATED[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    network = compile_spec(path)
    with pytest.raises(SpecError) as raised:
        check_classes(network)
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.headline() == f"{path}:{headline}"
    assert diagnostic.hint == HINTS.get(case)


# What the file can hold, which the checks must let through: spec text, each with what it exercises.
ACCEPTED = {
    # `planes / 2` of an int parameter prints as Fraction(planes, 2): the parameters' types are known
    "block_divides_int_parameters": (
        "input: [4, 8, 8]\nblocks:\n  b:\n    params: {planes: 8}\n    body: [conv: {out: planes / 2, kernel: 1}]\n"
        "body: [b]\n"),
    # a nested block that reads no input channels needs none, and one left at its defaults prints nothing
    "nested_block_without_channels": (
        "input: [4, 4, 4]\nblocks:\n  pool:\n    params: {k: 1}\n    body: [maxpool: {kernel: k}]\n"
        f"  b:\n    body: [{UNKNOWN_CHANNELS}, pool, pool: {{k: 2}}]\nbody: [b]\n"),
    # a setting over a parameter the class does not take (no layer reads `k`) is the class's value
    "detector_setting_over_a_fixed_parameter": (
        "input: [3, 8, 8]\nparams: {k: 2}\nbody:\n  - conv: {name: head, out: 16, kernel: 1}\n"
        "detect:\n  kind: yolov2\n  classes: k * 3 / 2\n  levels:\n    - {output: head, stride: 1, anchors: [[1, 1], [2, 3]]}\n"),
    # a setting written as a number is the class's value: no text to print
    "detector_setting_as_a_value": (
        "input: [3, 8, 8]\nparams: {classes: 3}\nbody:\n  - conv: {name: head, out: 2 * (5 + classes), kernel: 1}\n"
        "detect:\n  kind: yolov2\n  classes: 3\n  levels:\n    - {output: head, stride: 1, anchors: [[1, 1], [2, 3]]}\n"),
}


@pytest.mark.parametrize("case", ACCEPTED)
def test_what_the_file_can_hold_is_accepted(case: str, tmp_path: Path) -> None:
    path = tmp_path / f"{case}.yaml"
    path.write_text(ACCEPTED[case])
    check_classes(compile_spec(path))


def test_a_detector_kind_without_settings_kept_as_expressions_is_accepted() -> None:
    """Faster R-CNN keeps no `detect` setting as an expression over the parameters (FOLLOWS_CONSTRUCTOR)."""
    network = compile_spec(ROOT / "specs/detection/faster_rcnn_lecture.yaml")
    assert network.detection.kind == "faster_rcnn" and network.detection.sources
    check_classes(network)


def test_the_first_problem_is_the_first_the_file_would_meet(tmp_path: Path) -> None:
    """Two clashing block classes: the one met second in the network's layers is the one refused."""
    path = tmp_path / "order.yaml"
    path.write_text("input: [3, 8, 8]\nblocks:\n  p: {class: B, body: [relu]}\n  q: {class: B, body: [relu]}\n"
                    "body: [q, p]\n")
    with pytest.raises(SpecError) as raised:
        validate_spec(path)
    assert "the class of block 'p' would be named 'B', which is already the class of block 'q'" in str(raised.value)


def test_each_block_definition_is_lowered_once_by_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    from archspec import compiler
    from archspec.ir import blocks

    lowered: list[str] = []
    lowerings: list[str] = []
    definition_lower = blocks._Definition.lower
    spec_lower = compiler.lower
    monkeypatch.setattr(blocks._Definition, "lower", lambda self: lowered.append(self.block.name)
                        or definition_lower(self))
    monkeypatch.setattr(compiler, "lower", lambda spec: lowerings.append(spec.path) or spec_lower(spec))
    validate_spec(ROOT / "specs/resnet/resnet18_fpn.yaml")
    assert lowered and sorted(lowered) == sorted(set(lowered))
    assert len(lowerings) == 1


# Runs in a fresh interpreter where importing the PyTorch backend fails: `validate` must not need it.
_WITHOUT_BACKEND = """
import json, sys
sys.modules["archspec.backends.pytorch"] = None  # `import archspec.backends.pytorch` now raises ImportError
from archspec.api import check
results = {}
for path in sys.argv[1:]:
    result = check(path)
    results[path] = [len(result.errors), result.errors[0].headline()] if result.errors else "ok"
assert not any(name.startswith("archspec.backends.pytorch.") for name in sys.modules)
print(json.dumps(results))
"""


def test_validate_never_imports_the_pytorch_backend() -> None:
    """Every bad spec gives its catalogued diagnostics, and every shipped spec validates, without the backend."""
    from ..spec.test_bad_specs import CASES as BAD, read_expectations, spec_path

    shipped = [str(path.relative_to(ROOT)) for path in shipped_specs().values()]
    bad = [spec_path(name) for name in BAD]
    run = subprocess.run([sys.executable, "-c", _WITHOUT_BACKEND, *bad, *shipped], cwd=ROOT, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)
    assert {path: results[path] for path in shipped} == {path: "ok" for path in shipped}
    expected = read_expectations()
    for name in BAD:
        count, headline = expected[name]
        if "malformed YAML" in headline:
            continue  # worded by the YAML parser, which test_bad_specs handles
        assert results[spec_path(name)] == [count, headline], name


def test_validate_checks_a_detector_once_per_input(tmp_path: Path) -> None:
    """`load` checks the `detect:` section at the input asked for; `validate` then does not check it again,
    so each warning (here: anchors larger than the head's receptive field) is given once per input, and
    once in all when it reads the same at every input checked."""
    from archspec.api import check

    path = tmp_path / "detector.yaml"
    path.write_text("input: [3, 64, 64]\nparams: {classes: 3}\nbody:\n"
                    "  - conv: {out: 8, kernel: 3, stride: 2, padding: 1}\n"
                    "  - conv: {name: head, out: 5 + classes, kernel: 1, stride: 2}\n"
                    "detect:\n  kind: yolov2\n  classes: classes\n"
                    "  levels:\n    - {output: head, stride: 4, anchors: [[8, 8]]}\n")
    found = [len(check(path, size).warnings) for size in (None, "3,64,64", "3,72,72")]
    # at the spec's input, at the same input asked for, and at another: the warning reads the same at each
    assert found == [1, 1, 1]
