"""The public API end to end: what `import archspec` offers, and that the CLI prints exactly its results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import archspec
from cli.main import app

from ..conftest import ROOT

RESNET18 = "specs/resnet/resnet18.yaml"


def cli_json(*args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json"])
    return json.loads(result.stdout)


def test_import_and_analyses_never_import_torch() -> None:
    code = ("import sys, archspec\n"
            f"net = archspec.load({RESNET18!r}, params={{'num_classes': 10}})\n"
            "net.summary(); net.flops(by='stage'); net.receptive_fields(); net.sizes((32, 64)); net.source()\n"
            "net.render(level='block', show=['shapes', 'macs']).dot\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_results_are_the_cli_documents(at_root: Path) -> None:
    net = archspec.load(RESNET18, input="3x160x160")
    assert net.summary().to_json() == cli_json("summary", RESNET18, "--input", "3x160x160")
    assert net.flops(by="block", top=2).to_json() == cli_json("flops", RESNET18, "-i", "160", "--by", "block",
                                                             "--top", "2")
    assert archspec.load(RESNET18).receptive_fields().to_json() == cli_json("rf", RESNET18)
    assert net.sizes((30, 70)).to_json() == cli_json("sizes", RESNET18, "--range", "30:70")
    assert archspec.compare(RESNET18, "specs/resnet/resnet34.yaml").to_json() == \
        cli_json("compare", RESNET18, "specs/resnet/resnet34.yaml")
    assert net.resolved().to_json() == cli_json("resolve", RESNET18)


def test_results_are_plain_data(at_root: Path) -> None:
    net = archspec.load(RESNET18)
    summary = net.summary()
    assert (summary.params, summary.buffers) == (11_689_512, 9_620)  # torchvision's resnet18: 11,689,512
    stages = net.flops(by="stage")
    assert [row.name for row in stages.rows] == ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3",
                                                 "layer4", "avgpool", "flatten", "fc"]
    assert sum(row.cost.macs for row in stages.rows) == stages.total.macs
    assert round(stages.total.macs / 1e9, 2) == 1.81  # torchvision's table: 1.81 "GFLOPS", which are GMACs
    assert net.receptive_fields().fields["layer4"].size == (435, 435)
    comparison = archspec.compare(net, archspec.load("specs/resnet/resnet34.yaml"))
    assert comparison.delta["params"] == 21_797_672 - 11_689_512


def test_params_override_as_a_variant(at_root: Path) -> None:
    net = archspec.load("specs/resnet/resnet50.yaml", params={"num_classes": 10})
    fc = next(layer for layer in net.summary().layers if layer.name == "fc")
    assert fc.output_shape == (10,) and fc.cost.params == 2048 * 10 + 10
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load("specs/resnet/resnet50.yaml", params={"num_clases": 10, "layers": "many"})
    rendered = [d.render() for d in caught.value.diagnostics]
    assert rendered[0].startswith("<params>:2:3: error: unknown parameter 'num_clases'")
    assert "did you mean 'num_classes'?" in rendered[0]
    assert rendered[1].startswith("<params>:3:13: error: parameter 'layers' is a list in the family")


def test_spec_errors_carry_the_cli_diagnostics(at_root: Path) -> None:
    bad = "tests/bad_specs/add_channel_mismatch.yaml"
    with pytest.raises(archspec.SpecError) as caught:
        archspec.load(bad)
    assert [d.to_json() for d in caught.value.diagnostics] == cli_json("validate", bad)["specs"][0]["errors"]
    assert not archspec.check(bad).ok
    partial = archspec.load(bad, partial=True)
    assert partial.errors and "conv2" in partial.render(level="layer").dot


def test_diagram_draws_inline_and_saves_atomically(at_root: Path, tmp_path: Path) -> None:
    diagram = archspec.load(RESNET18).render(level="stage", show=["shapes", "params"])
    assert "<svg" in diagram._repr_svg_()
    drawing = diagram.save(tmp_path / "resnet18.svg")
    assert drawing.ok and (tmp_path / "resnet18.svg").read_bytes().lstrip().startswith(b"<?xml")
    with pytest.raises(archspec.OutputError):
        diagram.save(tmp_path / "missing" / "folder" / "x.svg")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(archspec.OptionError, match="'stages' is not one of stage, block, layer"):
        archspec.load(RESNET18).render(level="stages")


def test_source_and_module(at_root: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    import torch

    net = archspec.load(RESNET18)
    assert net.source() == (ROOT / "tests/golden/resnet18.py").read_text(encoding="utf-8")
    model = net.module(num_classes=5)
    reference = torchvision.models.resnet18(num_classes=5)
    assert {k: v.shape for k, v in model.state_dict().items()} == \
        {k: v.shape for k, v in reference.state_dict().items()}
    model.load_state_dict(reference.state_dict())
    model.eval(), reference.eval()
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(model(x), reference(x), atol=1e-5)


def test_module_scripts(tmp_path: Path) -> None:
    """The class's source stays readable to inspect, so torch.jit.script compiles the module."""
    import torch

    spec = tmp_path / "tiny.yaml"
    spec.write_text("input: [3, 16, 16]\nparams: {classes: 4}\nbody:\n  - conv: {out: 8, kernel: 3}\n  - bn\n"
                    "  - relu\n  - adaptive_avgpool: {size: 1}\n  - flatten\n  - linear: {out: classes}\n")
    model = archspec.load(spec).module(classes=3).eval()
    assert torch.jit.script(model)(torch.zeros(2, 3, 16, 16)).shape == (2, 3)


def test_build_writes_and_refuses(at_root: Path, tmp_path: Path) -> None:
    net = archspec.load(RESNET18)
    target = tmp_path / "model.py"
    assert net.build(target).ok and target.read_text(encoding="utf-8") == net.source()
    assert net.build(target, check=True).up_to_date is True
    target.write_text(target.read_text(encoding="utf-8") + "# my edit\n", encoding="utf-8")
    with pytest.raises(archspec.OutputError, match="edited by hand"):
        net.build(target)
    assert net.build(target, check=True).to_json()["up_to_date"] is False
    missing = net.build(tmp_path / "absent.py", check=True)
    assert (missing.exists, missing.up_to_date) == (False, False) and "does not exist" in str(missing)


def test_build_and_save_follow_the_write_rules(tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    spec = tmp_path / "tiny.yaml"
    spec.write_text("input: [3, 16, 16]\nbody:\n  - conv: {out: 8, kernel: 3}\n  - relu\n")
    net = archspec.load(spec)
    for write in (lambda: net.build(spec, force=True), lambda: net.render().save(spec, "dot", force=True)):
        with pytest.raises(archspec.OutputError, match="spec this command reads"):
            write()
    other = tmp_path / "notes.svg"
    other.write_text("mine")
    with pytest.raises(archspec.OutputError, match="not generated by archspec"):
        net.render().save(other)
    assert net.render().save(other, force=True).ok and other.read_bytes().startswith(b"<?xml")
    with pytest.raises(archspec.OptionError, match="needs --format"):
        net.render().save("-")
    capfdbinary.readouterr()
    net.build("-")
    net.render().save("-", "dot")
    out = capfdbinary.readouterr().out
    assert out.startswith(net.source().encode("utf-8")) and out.endswith(net.render().dot.encode("utf-8"))
    assert spec.read_text().startswith("input:")


@pytest.mark.parametrize("module", ["archspec", "archspec.api", "archspec.passes.pipeline",
                                    "archspec.passes.emittable"])
def test_docstring_examples(module: str, at_root: Path) -> None:
    import doctest
    import importlib

    failures, tried = doctest.testmod(importlib.import_module(module))
    assert tried and not failures
