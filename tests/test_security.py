"""Nothing in a spec is executed, every input is bounded, and nothing a spec says can inject code.

A spec is a file someone else wrote; the file archspec emits is Python someone then imports. So: YAML is
read with a safe composer and no tags; alias expansion, nesting, file size, imports and the network's size
are bounded; imports stay in the spec's folder (or a --spec-path); and every spec value reaches the
emitted file only as a checked identifier or through ``repr`` of a number, string or bool.
docs/hardening.md lists the limits and the rules.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import validate_spec
from archspec.errors import SpecError
from archspec.ir import lower
from archspec.spec import expr, loader, yaml_source

from .conftest import ROOT

SMALL = "input: [3, 8, 8]\nbody:\n  - conv: {name: conv1, out: 4, kernel: 3, padding: 1}\n  - relu\n"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text, encoding="utf-8")
    return path


def spec_error(path: Path, **options: Any) -> SpecError:
    """The SpecError validating `path` raises; every diagnostic must point into a file, at a line and column."""
    with pytest.raises(SpecError) as raised:
        validate_spec(path, **options)
    for diagnostic in raised.value.diagnostics:
        assert diagnostic.span.line >= 1 and diagnostic.span.column >= 1, diagnostic.headline()
        assert Path(diagnostic.span.file).is_file(), diagnostic.headline()
    return raised.value


def first_message(path: Path, **options: Any) -> str:
    return spec_error(path, **options).diagnostics[0].message


# ---------------------------------------------------------------- (a) alias expansion


BILLION_LAUGHS = "lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 10) + "]\n" for i in range(1, 10))


def test_billion_laughs_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    path = write(tmp_path, "laughs.yaml", BILLION_LAUGHS)
    start = time.perf_counter()
    error = spec_error(path)
    elapsed = time.perf_counter() - start
    assert elapsed < 2, f"took {elapsed:.2f} s"
    [diagnostic] = error.diagnostics
    assert f"more than {yaml_source.MAX_VALUES} values" in diagnostic.message and "alias" in diagnostic.message
    assert diagnostic.span.line == 6  # lol5, the first value that expands past the limit
    tracemalloc.start()
    try:
        spec_error(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    message = first_message(write(tmp_path, "loop.yaml", "input: &a [*a]\nbody: [relu]\n"))
    assert "alias is used inside its own anchor" in message


# ---------------------------------------------------------------- (b) nesting, size, imports, paths


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    depth = yaml_source.MAX_DEPTH + 5
    message = first_message(write(tmp_path, "deep.yaml", "input: " + "[" * depth + "1" + "]" * depth + "\n"))
    assert f"nesting deeper than {yaml_source.MAX_DEPTH}" in message
    # Deeper than libyaml itself allows: still a located error, not a crash.
    assert "nesting" in first_message(write(tmp_path, "deeper.yaml", "[" * 100_000 + "]" * 100_000))


def test_oversized_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = write(tmp_path, "big.yaml", SMALL + "#" * yaml_source.MAX_FILE_BYTES + "\n")
    assert f"larger than the limit of {yaml_source.MAX_FILE_BYTES} bytes" in first_message(path)


def test_import_depth_is_bounded(tmp_path: Path) -> None:
    depth = loader.MAX_IMPORT_DEPTH + 2
    for index in range(depth):
        write(tmp_path, f"lib{index}.yaml", f"import: lib{index + 1}.yaml\nblocks: {{b{index}: {{body: [relu]}}}}\n")
    write(tmp_path, f"lib{depth}.yaml", "blocks: {last: {body: [relu]}}\n")
    path = write(tmp_path, "net.yaml", "import: lib0.yaml\n" + SMALL)
    assert f"nested deeper than {loader.MAX_IMPORT_DEPTH}" in first_message(path)


def test_extends_depth_is_bounded(tmp_path: Path) -> None:
    depth = loader.MAX_EXTENDS_DEPTH + 2
    write(tmp_path, f"f{depth}.yaml", SMALL)
    for index in range(depth):
        write(tmp_path, f"f{index}.yaml", f"extends: f{index + 1}.yaml\n")
    assert f"nested deeper than {loader.MAX_EXTENDS_DEPTH}" in first_message(tmp_path / "f0.yaml")


def test_import_and_extends_cycles_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "import: b.yaml\nblocks: {a: {body: [relu]}}\n")
    write(tmp_path, "b.yaml", "import: a.yaml\nblocks: {b: {body: [relu]}}\n")
    assert "import cycle" in first_message(write(tmp_path, "net.yaml", "import: a.yaml\n" + SMALL))
    assert "import cycle" in first_message(write(tmp_path, "self.yaml", "import: self.yaml\n" + SMALL))
    write(tmp_path, "x.yaml", "extends: y.yaml\n")
    write(tmp_path, "y.yaml", "extends: x.yaml\n" + SMALL)
    assert "'extends' cycle" in first_message(tmp_path / "x.yaml")


@pytest.mark.parametrize("key", ["import", "extends"])
def test_paths_cannot_leave_the_spec_folder(tmp_path: Path, key: str) -> None:
    write(tmp_path, "outside.yaml", "blocks: {b: {body: [relu]}}\n" + SMALL)
    folder = tmp_path / "project"
    escape = write(folder, "escape.yaml", f"{key}: ../outside.yaml\n" + SMALL)
    assert "outside the spec's folder" in first_message(escape)
    deep_escape = write(folder, "sub/deep.yaml", f"{key}: ../../outside.yaml\n" + SMALL)
    assert "outside the spec's folder" in first_message(deep_escape)
    absolute = write(folder, "absolute.yaml", f"{key}: {tmp_path / 'outside.yaml'}\n" + SMALL)
    assert "absolute path" in first_message(absolute)
    system = write(folder, "system.yaml", f"{key}: /etc/passwd\n" + SMALL)
    assert "absolute path" in first_message(system)
    # A link inside the folder that points out of it is resolved first, and refused the same way.
    (folder / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    linked = write(folder, "linked.yaml", f"{key}: link.yaml\n" + SMALL)
    assert "outside the spec's folder" in first_message(linked)


def test_spec_path_allows_one_more_folder(tmp_path: Path) -> None:
    write(tmp_path, "lib/blocks.yaml", "blocks: {unit: {params: {planes: 4}, body: [conv: {out: planes, kernel: 1}]}}\n")
    spec = write(tmp_path, "project/net.yaml", "import: ../lib/blocks.yaml\ninput: [3, 8, 8]\nbody: [unit]\n")
    assert "outside the spec's folder" in first_message(spec)
    assert validate_spec(spec, spec_path=(tmp_path / "lib",)).name == "net"
    by_name = write(tmp_path, "project/short.yaml", "import: blocks.yaml\ninput: [3, 8, 8]\nbody: [unit]\n")
    assert validate_spec(by_name, spec_path=(tmp_path / "lib",)).name == "short"

    def cli(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", "validate", str(spec), *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    refused = cli()
    assert refused.returncode == 1 and "outside the spec's folder" in refused.stderr
    assert "Traceback" not in refused.stderr
    allowed = cli("--spec-path", str(tmp_path / "lib"))
    assert allowed.returncode == 0, allowed.stderr


def test_a_device_file_or_folder_is_not_read_for_ever(tmp_path: Path) -> None:
    if Path("/dev/zero").exists():
        start = time.perf_counter()
        with pytest.raises(SpecError, match="larger than the limit"):
            validate_spec("/dev/zero")
        assert time.perf_counter() - start < 2
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(SpecError, match="cannot read"):
        validate_spec(tmp_path / "folder.yaml")


# ---------------------------------------------------------------- (c) YAML tags


@pytest.mark.parametrize("tagged", [
    "input: !!python/object/apply:os.system ['touch {marker}']\nbody: [relu]\n",
    "input: [3, 8, 8]\nbody:\n  - conv: !!python/object/apply:os.system {{args: ['touch {marker}']}}\n",
    "input: !!python/tuple [3, 8, 8]\nbody: [relu]\n",
    "input: [3, 8, 8]\nbody: [!!python/name:os.system relu]\n",
    "input: [3, 8, 8]\nname: !!python/module:os\nbody: [relu]\n",
    "input: [3, 8, 8]\ndoc: !!binary aGVsbG8=\nbody: [relu]\n",
    "input: [3, 8, 8]\nbody: !!set {{relu: null}}\n",
    "input: [3, 8, 8]\nbody: !custom [relu]\n",
    "!!python/object/new:os.system [touch {marker}]\n",
])
def test_yaml_tags_are_refused(tmp_path: Path, tagged: str) -> None:
    marker = tmp_path / "MARKER"
    path = write(tmp_path, "tagged.yaml", tagged.format(marker=marker))
    message = first_message(path)
    assert "YAML tag" in message and "is not allowed" in message
    assert not marker.exists()


# ---------------------------------------------------------------- (d) injection into the emitted file

MARKER = "ARCHSPEC_PWNED"
PAYLOADS = [
    f"x\nimport os\nos.system('touch {MARKER}')",
    f"x\rimport os; os.system('touch {MARKER}')",
    f"'); import os; os.system('touch {MARKER}') #",
    f'"""; import os; os.system("touch {MARKER}"); """',
    f"\\\"\"\"; open('{MARKER}', 'w') #",
    f"__import__('os').system('touch {MARKER}')",
    f"{{__import__('os').system('touch {MARKER}')}}",
    "x\x00y", "trailing backslash \\", "\\N{BULLET} and \\x41",
    "forward", "self", "class", "torch", "nn", "super", "Tensor", "OrderedDict", "range", "__init__",
    "__class__", "_modules", "center_crop", "in_channels",
    "ｆｏｒｗａｒｄ", "ѕelf", "𝐬𝐞𝐥𝐟", "torch‮",
]

# Where a payload goes: a function of the payload that returns the spec as a Python structure.
BLOCK = {"params": {"planes": 4}, "body": [{"conv": {"name": "conv1", "out": "planes", "kernel": 1}}]}


def _with_block(**changes: Any) -> dict[str, Any]:
    block = {**BLOCK, **changes}
    return {"input": [3, 8, 8], "blocks": {"unit": block}, "body": [{"unit": {"name": "u"}}]}


FIELDS = {
    "layer name": lambda p: {"input": [3, 8, 8], "body": [{"conv": {"name": p, "out": 4, "kernel": 1}}]},
    "name in a seq": lambda p: {"input": [3, 8, 8], "body": [{"seq": {"name": "s", "body": [
        {"conv": {"name": p, "out": 4, "kernel": 1}}]}}]},
    "block name": lambda p: {"input": [3, 8, 8], "blocks": {p: BLOCK}, "body": [p]},
    "block class": lambda p: _with_block(**{"class": p}),
    "block doc": lambda p: _with_block(doc=p),
    "block input": lambda p: _with_block(inputs=[p], body=[{"conv": {"name": "c", "from": p, "out": 4,
                                                                      "kernel": 1}}]),
    "block parameter name": lambda p: _with_block(params={p: 4, "planes": 4}),
    "block parameter default": lambda p: _with_block(params={"planes": 4, "mode": p}),
    "block argument": lambda p: {**_with_block(params={"planes": 4, "mode": "x"}),
                                 "body": [{"unit": {"mode": p}}]},
    "block list argument": lambda p: {**_with_block(params={"planes": 4, "names": ["x"]}),
                                      "body": [{"unit": {"names": [f"'{p}'"]}}]},
    "expression in a block": lambda p: _with_block(body=[{"conv": {"name": "c", "out": f"planes + {p}",
                                                                   "kernel": 1}}]),
    "condition in a block": lambda p: _with_block(body=[{"conv": {"name": "c", "out": 4, "kernel": 1,
                                                                  "if": p}}]),
    "group name": lambda p: {"input": [3, 8, 8], "body": [{"group": {"name": p, "body": ["relu"]}}]},
    "group class": lambda p: {"input": [3, 8, 8], "body": [{"group": {"name": "g", "class": p, "body": ["relu"]}}]},
    "network class": lambda p: {"class": p, "input": [3, 8, 8], "body": ["relu"]},
    "spec name": lambda p: {"name": p, "input": [3, 8, 8], "body": ["relu"]},
    "doc": lambda p: {"doc": p, "input": [3, 8, 8], "body": ["relu"]},
    "network parameter": lambda p: {"params": {"kind": p}, "input": [3, 8, 8], "blocks": {"unit": BLOCK},
                                    "body": ["$kind"]},
    "expression": lambda p: {"input": [3, 8, 8], "body": [{"conv": {"out": p, "kernel": 1}}]},
    "choice attribute": lambda p: {"input": [3, 8, 8], "body": [{"upsample": {"mode": p}}]},
    "defaults": lambda p: {"input": [3, 8, 8], "defaults": {"dropout": {"p": p}}, "body": ["dropout"]},
    "output key": lambda p: {"input": [3, 8, 8], "body": [{"conv": {"name": "a", "out": 4, "kernel": 1}}],
                             "outputs": {p: "a"}},
    "output reference": lambda p: {"input": [3, 8, 8], "body": ["relu"], "outputs": p},
    "from": lambda p: {"input": [3, 8, 8], "body": ["relu", {"add": {"from": [p, "relu"]}}]},
    "repeat index": lambda p: {"input": [3, 8, 8], "body": [{"repeat": {"count": 2, "as": p, "body": ["relu"]}}]},
    "interpolated name": lambda p: {"input": [3, 8, 8], "body": [{"repeat": {"count": 1, "body": [
        {"conv": {"name": "c{" + p + "}", "out": 4, "kernel": 1}}]}}]},
    "share": lambda p: {"input": [3, 8, 8], "body": [{"conv": {"name": "a", "out": 3, "kernel": 1}},
                                                     {"conv": {"share": p}}]},
}

FIXED_IMPORTS = {"import torch", "from torch import Tensor, nn", "from collections import OrderedDict"}
TYPING_NAMES = {"Dict", "List", "Optional", "Tuple"}
CALLABLE_NAMES = {"super", "range", "min", "max", "len", "abs", "OrderedDict"}
DANGEROUS = {"os", "system", "__import__", "eval", "exec", "open", "compile", "getattr", "setattr", "globals",
             "locals", "vars", "breakpoint", "subprocess", "sys", "builtins", "__builtins__", "input", "print"}


def assert_no_injection(source: str) -> None:
    """Only the header's imports; calls only to nn, torch, self, a few builtins and the file's own definitions."""
    tree = ast.parse(source)
    defined = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    for index, statement in enumerate(tree.body):
        if isinstance(statement, ast.Import | ast.ImportFrom):
            text = ast.unparse(statement)
            typing = isinstance(statement, ast.ImportFrom) and statement.module == "typing" and \
                {alias.name for alias in statement.names} <= TYPING_NAMES
            assert text in FIXED_IMPORTS or typing, f"import: {text}"
        elif isinstance(statement, ast.Expr):
            assert index == 0 and isinstance(statement.value, ast.Constant), ast.unparse(statement)
        else:
            assert isinstance(statement, ast.ClassDef | ast.FunctionDef), ast.unparse(statement)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id not in DANGEROUS, f"name {node.id!r}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in DANGEROUS, f"attribute {node.attr!r}"
        if isinstance(node, ast.Call):
            root = node.func
            while isinstance(root, ast.Attribute | ast.Subscript | ast.Call):
                root = root.value if not isinstance(root, ast.Call) else root.func
            assert isinstance(root, ast.Name), ast.unparse(node)
            assert root.id in {"nn", "torch", "self"} | CALLABLE_NAMES | defined, f"call: {ast.unparse(node)}"


def build_module(source: str, folder: Path, name: str) -> Any:
    path = write(folder, f"{name}.py", source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_no_field_injects_code(tmp_path: Path, field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a payload that ran would leave its marker here
    outcomes = {"refused": 0, "emitted": 0}
    for number, payload in enumerate(PAYLOADS):
        spec = FIELDS[field](payload)
        path = write(tmp_path, f"case{number}.yaml", yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
        try:
            network = validate_spec(path)
        except SpecError as error:
            assert all(d.span.line >= 1 for d in error.diagnostics)
            outcomes["refused"] += 1
            continue
        source = emit_pytorch(network)
        assert_no_injection(source)
        module = build_module(source, tmp_path, f"injected_{field.replace(' ', '_')}_{number}")
        model = getattr(module, network.name)().eval()
        model(torch.zeros(1, 3, 8, 8))
        outcomes["emitted"] += 1
        assert not (tmp_path / MARKER).exists(), (field, payload)
    assert not (tmp_path / MARKER).exists()
    assert outcomes["refused"] + outcomes["emitted"] == len(PAYLOADS)


def test_strings_reach_the_code_only_through_repr(tmp_path: Path) -> None:
    """A string parameter full of quotes and line breaks arrives intact, as data."""
    payload = PAYLOADS[0] + PAYLOADS[3] + "\x00\u2028\ud7ff"
    spec = {"doc": payload, "input": [3, 8, 8], "outputs": {payload: "a"},
            "blocks": {"unit": {"doc": payload, "params": {"planes": 4, "mode": payload},
                                "body": [{"conv": {"name": "a", "out": "planes", "kernel": 1}}]}},
            "body": [{"unit": {"name": "a", "mode": payload + "!"}}]}
    path = write(tmp_path, "strings.yaml", yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
    source = emit_pytorch(validate_spec(path))
    assert_no_injection(source)
    module = build_module(source, tmp_path, "strings_module")
    assert module.__doc__.startswith(" ".join(payload.split())[:20])
    assert module.Unit.__init__.__defaults__ == (4, payload)
    output = module.Strings().eval()(torch.zeros(1, 3, 8, 8))
    assert list(output) == [payload]


def test_a_spec_file_name_cannot_inject_code(tmp_path: Path) -> None:
    """The spec's path is written into the header comment and a docstring."""
    name = "evil\nimport os\nos.system('touch MARKER')\n\"\"\"\\x.yaml"
    path = write(tmp_path, name, "name: evil\n" + SMALL)
    source = emit_pytorch(validate_spec(path))
    assert_no_injection(source)
    header = source.split("\n")[0]
    assert header.startswith("# Generated by archspec from ") and "\\n" in header
    build_module(source, tmp_path, "evil_module").evil()
    assert not (tmp_path / "MARKER").exists()


def test_compiler_never_evaluates_python() -> None:
    """No eval, exec, compile, dynamic import or unsafe YAML loading anywhere in the compiler."""
    forbidden_calls = {"eval", "exec", "compile", "__import__"}
    forbidden_attributes = {"yaml": {"load", "unsafe_load", "full_load", "load_all", "unsafe_load_all",
                                     "full_load_all"},
                            "os": {"system", "popen", "execv", "execvp", "spawnv"}}
    forbidden_imports = {"pickle", "marshal", "subprocess", "importlib", "shelve", "ctypes"}
    # `archspec train` runs the module file that the code generator has just written (what a spec can put
    # in it is bounded there, docs/hardening.md); importing that file is its one dynamic import.
    allowed_imports = {("archspec/train/loop.py", "importlib")}
    for path in sorted((ROOT / "archspec").rglob("*.py")) + sorted((ROOT / "cli").rglob("*.py")):
        file = path.relative_to(ROOT).as_posix()
        forbidden = forbidden_imports - {name for allowed, name in allowed_imports if allowed == file}
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_calls, where
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name):
                assert node.func.attr not in forbidden_attributes.get(node.func.value.id, ()), where
            if isinstance(node, ast.Import):
                assert not {a.name.split(".")[0] for a in node.names} & forbidden, where
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] not in forbidden, where


# ---------------------------------------------------------------- (e) resources


def test_a_trillion_parameters_are_analysed_at_once_with_exact_integers(tmp_path: Path) -> None:
    from archspec.passes.cost import analyse_cost

    path = write(tmp_path, "huge.yaml", "input: [1000000]\nbody:\n  - linear: {name: fc, out: 1000000}\n"
                                        "  - linear: {name: fc2, out: 1000000}\n")
    start = time.perf_counter()
    report = analyse_cost(validate_spec(path))
    assert time.perf_counter() - start < 1
    assert report.total.params == 2 * (10**12 + 10**6)
    assert report.total.macs == 2 * 10**12
    assert isinstance(report.total.params, int)
    wide = write(tmp_path, "wide.yaml", "input: [100000, 1000, 1000]\nbody:\n"
                                        "  - conv: {out: 100000, kernel: 11, padding: 5}\n")
    start = time.perf_counter()
    report = analyse_cost(validate_spec(wide))
    assert time.perf_counter() - start < 1
    assert report.total.params == 100000 * 100000 * 121 + 100000
    assert report.total.macs == 100000 * 1000 * 1000 * 100000 * 121


def test_build_warns_about_a_huge_network_and_still_writes_it(tmp_path: Path) -> None:
    from archspec.passes.cost import LARGE_MODEL_PARAMS

    path = write(tmp_path, "huge.yaml", "input: [100000]\nbody:\n  - linear: {name: fc, out: 100000}\n")
    target = tmp_path / "huge.py"

    def build(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli.main", "build", str(path), "-o", str(target), *extra],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    result = build("--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["params"] == 100000 * 100000 + 100000 > LARGE_MODEL_PARAMS
    [warning] = document["warnings"]
    assert warning["severity"] == "warning" and f"more than {LARGE_MODEL_PARAMS:,}" in warning["message"]
    assert warning["file"].endswith("huge.yaml") and warning["line"] >= 1
    assert target.is_file()
    text = build("--force")
    assert text.returncode == 0 and "huge.yaml:" in text.stderr
    assert "warning: the network has 10,000,100,000 parameters" in text.stderr


def test_the_layer_limit_stops_lowering_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the limit lowering stops with one error instead of one per extra layer."""
    monkeypatch.setattr(lower, "MAX_NODES", 1000)
    path = write(tmp_path, "many.yaml", "input: [3, 8, 8]\nbody:\n  - repeat: {count: 600, body: "
                                        "[relu: {name: 'r{i}'}, sigmoid: {name: 's{i}'}]}\n")
    start = time.perf_counter()
    error = spec_error(path)
    assert time.perf_counter() - start < 2
    assert [d.message for d in error.diagnostics] == ["the network has more than 1000 layers"]


def test_blocks_that_double_at_every_level_stop_at_the_limit(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """30 levels of blocks that each use the next twice would be 2^30 layers; lowering stops at the limit.
    (With the real limit of 100,000 layers this takes a few seconds; docs/hardening.md has the timing.)"""
    monkeypatch.setattr(lower, "MAX_NODES", 10_000)
    blocks = "".join(f"  b{i}:\n    body: [b{i + 1}, b{i + 1}]\n" for i in range(30))
    path = write(tmp_path, "doubling.yaml", "input: [3, 8, 8]\nblocks:\n" + blocks + "  b30:\n    body: [relu]\n"
                                            "body: [b0]\n")
    start = time.perf_counter()
    error = spec_error(path)
    assert time.perf_counter() - start < 5
    assert [d.message for d in error.diagnostics] == ["the network has more than 10000 layers"]


def test_repeats_of_nothing_are_bounded(tmp_path: Path) -> None:
    """A repeat whose body adds no layers still counts its steps (with the real limit)."""
    path = write(tmp_path, "empty.yaml", "input: [3, 8, 8]\nbody:\n  - relu\n"
                                         "  - repeat: {count: 1000000000000, body: [relu: {name: r, if: false}]}\n")
    start = time.perf_counter()
    message = first_message(path)
    assert time.perf_counter() - start < 10
    assert f"more than {lower.MAX_NODES} times" in message


@pytest.mark.parametrize("expression, message", [
    ("1 + " * 1000 + "1", "longer than"),
    ("(" * 50 + "1" + ")" * 50, "nested too deeply"),
    ("1" + " + 1" * 100, "nested too deeply"),
    ("not " * 100 + "true", "nested too deeply"),
    ("2" + " ** 2" * 100, "nested too deeply"),
    ("10 ** 41", "too large"),
    ("2 ** 1000", "exponent is too large"),
    ("1e400", "too large"),
])
def test_expressions_are_bounded(tmp_path: Path, expression: str, message: str) -> None:
    path = write(tmp_path, "expr.yaml", yaml.safe_dump({"input": [3, 8, 8], "params": {"l": [1]},
                                                         "body": [{"conv": {"out": expression, "kernel": 1}}]}))
    assert message in first_message(path)
    assert expr.MAX_DEPTH == 40 and expr.MAX_LENGTH == 2000


@pytest.mark.parametrize("number", [".nan", ".inf", "-.inf", "1" + "0" * 41, "1e41"])
def test_numbers_are_finite_and_bounded(tmp_path: Path, number: str) -> None:
    path = write(tmp_path, "number.yaml", f"input: [3, 8, 8]\nbody:\n  - dropout: {{p: {number}}}\n")
    message = first_message(path)
    assert "finite" in message or "too large" in message


def test_block_parameters_hold_only_literals(tmp_path: Path) -> None:
    nested = write(tmp_path, "nested.yaml", "input: [3, 8, 8]\nblocks:\n  b:\n    params: {x: [{a: 1}]}\n"
                                            "    body: [relu]\nbody: [b]\n")
    assert "not a number, string, boolean or list" in first_message(nested)
    complex_number = write(tmp_path, "complex_arg.yaml", "input: [3, 8, 8]\nblocks:\n  b:\n    params: {x: [1]}\n"
                                                         "    body: [relu]\nbody:\n  - b: {x: '[(-1) ** 0.5]'}\n")
    assert "must be a list of numbers" in first_message(complex_number)


def test_names_defined_by_the_file_never_collide(tmp_path: Path) -> None:
    """The factory, the network class, the block classes and the imports each keep their own name."""
    cases = {
        "name: Net\nclass: Net\n": "already the factory function",
        "name: unit\nblocks: {unit: {body: [relu]}}\n": "already the network class",
        "blocks: {p: {class: B, body: [relu]}, q: {class: B, body: [sigmoid]}}\n": "already the class of block 'p'",
        "name: torch\n": "would shadow a name the generated file imports",
        "class: super\n": "would shadow the Python builtin",
        "blocks: {p: {class: nn, body: [relu]}}\n": "would shadow a name the generated file imports",
        "name: center_crop\n": "already the helper function",
    }
    for number, (head, message) in enumerate(cases.items()):
        body = "body: [p, q]\n" if "q:" in head else "body: [unit]\n" if "unit:" in head else \
            "body: [p]\n" if "p:" in head else "body: [relu]\n"
        path = write(tmp_path, f"case{number}.yaml", head + "input: [3, 8, 8]\n" + body)
        assert message in first_message(path), head


def test_block_signature_puts_required_parameters_first(tmp_path: Path) -> None:
    path = write(tmp_path, "order.yaml", "input: [3, 8, 8]\nblocks:\n  b:\n    params: {stride: 1, planes: int}\n"
                                         "    body: [conv: {name: c, out: planes, kernel: 1, stride: stride}]\n"
                                         "body:\n  - b: {planes: 4, stride: 2}\n")
    source = emit_pytorch(validate_spec(path))
    assert "def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:" in source
    assert "B(3, 4, stride=2)" in source
    module = build_module(source, tmp_path, "order_module")
    assert module.Order().b1.c.stride == (2, 2)


def test_block_inputs_named_like_generated_names(tmp_path: Path) -> None:
    path = write(tmp_path, "inputs.yaml", "input: [3, 8, 8]\nblocks:\n  b:\n    inputs: [input, x, self, torch]\n"
                                          "    body: [add: {from: [input, x, self, torch]}]\n"
                                          "body:\n  - conv: {name: a, out: 4, kernel: 1}\n  - b: {from: [a, a, a, a]}\n")
    source = emit_pytorch(validate_spec(path))
    assert "def forward(self, x: Tensor, x_2: Tensor, self_: Tensor, torch_: Tensor) -> Tensor:" in source
    module = build_module(source, tmp_path, "inputs_module")
    output = module.Inputs()(torch.ones(1, 3, 8, 8))
    assert output.shape == (1, 4, 8, 8)
    twice = write(tmp_path, "twice.yaml", "input: [3, 8, 8]\nblocks:\n  b:\n    inputs: [x, x]\n"
                                          "    body: [add: {from: [x, x]}]\nbody:\n  - b: {from: [input, input]}\n")
    assert "names its input 'x' twice" in first_message(twice)

