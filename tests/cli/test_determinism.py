"""Same spec, same bytes: emitted code and reports do not depend on the hash seed or on mapping order.

Every command below runs once per PYTHONHASHSEED in a fresh interpreter, and its output (stdout, or the
file it writes) must be byte-identical across seeds. Adding a command is one line in COMMANDS; `render`
is there twice, for the SVG Graphviz draws and for the DOT text archspec writes.

The YAML side: where the order of a mapping carries no meaning — attributes inside a layer, `params`,
`blocks`, `defaults`, the top-level keys — reordering it must not change the emitted code or the reports.
(The order of a block's `params` is the order of its constructor's arguments, so it is kept.)
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import ROOT

SPECS = ["specs/resnet/resnet50_v1.yaml", "specs/vgg/vgg11_bn.yaml", "tests/specs/skip_two_outputs.yaml"]
SEEDS = ["0", "1", "12345", "random"]

# (name, CLI arguments, file the command writes or None for its stdout); {spec} and {out} are filled in.
COMMANDS = [
    ("build", ["build", "{spec}", "-o", "{out}/model.py", "--force"], "model.py"),
    ("validate", ["validate", "{spec}", "--json"], None),
    ("summary", ["summary", "{spec}", "--json"], None),
    ("flops", ["flops", "{spec}", "--json", "--by", "block", "--top", "5"], None),
    ("rf", ["rf", "{spec}", "--json"], None),
    ("resolve", ["resolve", "{spec}", "--json"], None),
    ("render", ["render", "{spec}", "-o", "{out}/net.svg", "--level", "block", "--show", "shapes,params,macs,rf"],
     "net.svg"),
    ("render-dot", ["render", "{spec}", "-o", "{out}/net.dot", "--level", "layer"], "net.dot"),
]

# Runs every command in-process (one interpreter per seed keeps the test fast) and prints the outputs.
DRIVER = """
import contextlib, io, json, sys
from pathlib import Path
from cli.main import app

jobs, out = json.loads(sys.argv[1]), Path(sys.argv[2])
results = {}
for key, argv, written in jobs:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        try:
            app(argv, standalone_mode=False)
        except SystemExit as exit:
            assert not exit.code, (argv, exit.code)
    results[key] = (out / written).read_text(encoding="utf-8") if written else stdout.getvalue()
sys.stdout.write(json.dumps(results))
"""


def run_commands(seed: str, out: Path) -> dict[str, str]:
    jobs = []
    for spec in SPECS:
        for name, argv, written in COMMANDS:
            arguments = [part.format(spec=spec, out=out) for part in argv]
            jobs.append([f"{spec} {name}", arguments, written])
    env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(jobs), str(out)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_outputs_are_identical_across_hash_seeds(tmp_path: Path) -> None:
    runs = {}
    for seed in SEEDS:
        out = tmp_path / f"seed_{seed}"
        out.mkdir()
        runs[seed] = run_commands(seed, out)
    reference = runs[SEEDS[0]]
    assert len(reference) == len(SPECS) * len(COMMANDS)
    for seed, outputs in runs.items():
        for key, text in reference.items():
            # The build's own --json line names its output folder; the file is what must not change.
            assert outputs[key] == text, f"{key} differs between PYTHONHASHSEED={SEEDS[0]} and {seed}"


# ---------------------------------------------------------------- mapping order


def _shuffled(mapping: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    keys = list(mapping)
    rng.shuffle(keys)
    return {key: mapping[key] for key in keys}


def _reorder_item(item: Any, rng: random.Random) -> Any:
    """A body item with its attributes in another order, and the same done to nested bodies."""
    if not isinstance(item, dict) or len(item) != 1:
        return item
    (op, attrs), = item.items()
    if not isinstance(attrs, dict):
        return item
    attrs = _shuffled(attrs, rng)
    if isinstance(attrs.get("body"), list):
        attrs["body"] = [_reorder_item(child, rng) for child in attrs["body"]]
    return {op: attrs}


def reorder(spec: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """The spec with every mapping whose order has no meaning shuffled."""
    spec = _shuffled(spec, rng)
    if isinstance(spec.get("params"), dict):
        spec["params"] = _shuffled(spec["params"], rng)
    if isinstance(spec.get("defaults"), dict):
        spec["defaults"] = {op: _shuffled(attrs, rng) for op, attrs in _shuffled(spec["defaults"], rng).items()}
    if isinstance(spec.get("blocks"), dict):
        blocks = {}
        for name, block in _shuffled(spec["blocks"], rng).items():
            params = block.get("params")  # a block's params are its constructor's signature: order kept
            block = _shuffled(block, rng)
            if params is not None:
                block["params"] = params
            block["body"] = [_reorder_item(item, rng) for item in block["body"]]
            blocks[name] = block
        spec["blocks"] = blocks
    spec["body"] = [_reorder_item(item, rng) for item in spec["body"]]
    return spec


def products(folder: Path, text: str) -> dict[str, Any]:
    """Emitted code and reports of a spec written as folder/net.yaml, compiled from inside the folder."""
    from archspec.backends import analysis, report
    from archspec.backends.diagram import SHOW, RenderOptions, diagram_dot
    from archspec.backends.pytorch import emit_pytorch
    from archspec.compiler import validate_spec
    from archspec.passes.cost import analyse_cost
    from archspec.passes.receptive_field import receptive_fields

    folder.mkdir()
    (folder / "net.yaml").write_text(text, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        network = validate_spec("net.yaml")
        cost = analyse_cost(network)
        return {"code": emit_pytorch(network), "summary": report.summary_json(network, cost),
                "flops": analysis.flops_json(network, cost, "stage", 5),
                "rf": analysis.rf_json(network, receptive_fields(network, None)),
                # The DOT text is all that the SVG depends on besides Graphviz itself.
                "diagram": diagram_dot(network, RenderOptions(level="block", show=frozenset(SHOW)))}


@pytest.mark.parametrize("spec", ["specs/resnet/resnet.yaml", "specs/vgg/vgg.yaml", "tests/specs/skip_two_outputs.yaml"])
def test_mapping_order_does_not_change_the_output(tmp_path: Path, spec: str) -> None:
    original = yaml.safe_load((ROOT / spec).read_text(encoding="utf-8"))
    expected = products(tmp_path / "original", yaml.safe_dump(original, sort_keys=False))
    for seed in range(3):
        shuffled = reorder(original, random.Random(seed))
        assert list(shuffled) != list(original) or seed, "the shuffle should change something"
        found = products(tmp_path / f"shuffled_{seed}", yaml.safe_dump(shuffled, sort_keys=False))
        for key in expected:
            assert found[key] == expected[key], f"{key} changed when the mappings of {spec} were reordered"
