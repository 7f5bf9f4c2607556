"""The spec language: families, design rules, repetition, graphs, imports, expressions."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.cost import analyse_cost
from archspec.passes.shapes import infer_shapes
from archspec.spec import expr

from ..conftest import ROOT, shipped_specs


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_family_and_variant_sizes() -> None:
    lines = lambda name: len((ROOT / "specs/resnet" / name).read_text().splitlines())  # noqa: E731
    assert lines("resnet50.yaml") < 15
    assert lines("resnet.yaml") < 75  # nine networks (ResNet-18 to -152, ResNeXt, Wide ResNet) and their init


def test_every_shipped_spec_is_named_after_its_model() -> None:
    for stem, path in shipped_specs().items():
        assert compile_spec(path).name == stem


def test_vgg_design_rules_are_stated_once() -> None:
    """All convs 3x3/1/1 and pools 2x2/2 come from `defaults`; widths double after each pool up to 512."""
    text = (ROOT / "specs/vgg/vgg.yaml").read_text()
    assert text.count("kernel") == 2
    network = compile_spec(ROOT / "specs/vgg/vgg19.yaml")
    features = network.root.node("features").child
    convs = [n for n in features.nodes if n.op == "conv"]
    assert {(n.attrs["kernel"], n.attrs["stride"], n.attrs["padding"]) for n in convs} == {((3, 3), (1, 1), (1, 1))}
    widths = []
    for node in features.nodes:
        if node.op == "maxpool":
            widths.append(node.shape[0])
    assert widths == [64, 128, 256, 512, 512]
    assert len(convs) == 16


def test_repeat_with_per_index_differences() -> None:
    """The first block of every stage but the first strides 2 and gets a projection shortcut."""
    network = compile_spec(ROOT / "specs/resnet/resnet50.yaml")
    for stage, count in zip(("layer1", "layer2", "layer3", "layer4"), (3, 4, 6, 3)):
        blocks = network.root.node(stage).child.nodes
        assert len(blocks) == count
        first, rest = blocks[0].child, [b.child for b in blocks[1:]]
        assert first.args["stride"] == (1 if stage == "layer1" else 2)
        assert first.node("downsample") is not None
        assert all(b.node("downsample") is None and b.args["stride"] == 1 for b in rest)


def test_skip_connection_two_outputs_and_shared_head(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from archspec.backends.pytorch import emit_pytorch

    from ..conftest import import_file

    network = compile_spec(ROOT / "tests/specs/skip_two_outputs.yaml")
    path = tmp_path / "skipnet_generated.py"
    path.write_text(emit_pytorch(network))
    model = import_file(path, "skipnet_generated").skipnet()
    outputs = model(torch.randn(2, 3, 32, 32))
    assert set(outputs) == {"full", "small"}
    assert tuple(outputs["full"].shape) == (2, 5, 32, 32)
    assert tuple(outputs["small"].shape) == (2, 5, 16, 16)
    # The shared head owns its weights once: the module and the analysis agree on the count.
    assert sum(p.numel() for p in model.parameters()) == analyse_cost(network).total.params
    shapes = infer_shapes(network, (3, 32, 32)).shapes
    assert shapes["head_small.classifier"] == (5, 16, 16)


def test_blocks_imported_from_another_file(tmp_path: Path) -> None:
    write(tmp_path, "blocks.yaml", """
blocks:
  double_conv:
    class: DoubleConv
    params: {width: int, factor: 2}
    body:
      - conv: {name: conv1, out: width * factor, kernel: 3, padding: 1}
      - relu
      - conv: {name: conv2, out: width * factor, kernel: 3, padding: 1}
      - relu
""")
    spec = write(tmp_path, "net.yaml", """
name: net
import: [blocks.yaml]
input: [3, 16, 16]
body:
  - double_conv: {name: enc1, width: 8}
  - double_conv: {name: enc2, width: 8, factor: 4}
""")
    network = compile_spec(spec)
    assert network.root.node("enc2").shape == (32, 16, 16)
    assert network.root.node("enc1").child.class_name == "DoubleConv"


def test_variant_may_not_invent_parameters(tmp_path: Path) -> None:
    write(tmp_path, "family.yaml", "input: [3, 8, 8]\nparams: {width: 4}\nbody:\n  - conv: {out: width, kernel: 1}\n")
    variant = write(tmp_path, "variant.yaml", "extends: family.yaml\nparams: {widht: 8}\n")
    with pytest.raises(SpecError) as error:
        compile_spec(variant)
    (diagnostic,) = error.value.diagnostics
    assert (diagnostic.span.line, diagnostic.span.column) == (2, 10)
    assert "unknown parameter 'widht'" in diagnostic.message and diagnostic.hint == "did you mean 'width'?"


def test_expressions_are_evaluated_not_executed() -> None:
    env = {"width": 64, "layers": [3, 4, 6, 3], "i": 0}
    assert expr.evaluate(expr.parse("width * 4"), env) == 256
    assert expr.evaluate(expr.parse("2 if i == 0 else 1"), env) == 2
    assert expr.evaluate(expr.parse("layers[-1] + len(layers)"), env) == 7
    assert expr.evaluate(expr.parse("width / 3"), env) == expr.evaluate(expr.parse("64 / 3"), {})
    for hostile in ("__import__('os')", "width.__class__", "(lambda: 1)()", "open('x')", "exec('1')"):
        with pytest.raises(expr.ExprError):
            expr.evaluate(expr.parse(hostile), env)


def test_expression_printing_round_trips() -> None:
    for text in ("(a + b) * c", "a - (b - c)", "-a ** 2", "(-a) ** 2", "a if b else c", "not (a and b)",
                 "a < b <= c", "min(a, b * 2)", "xs[i + 1]", "(a or b) or c", "a or (b or c)", "(a and b) and c",
                 "(a < b) == c", "a == (b < c)", "(a ** b) ** c", "a ** b ** c", "(a if b else c) if a else b",
                 "a if b else c if a else b", "-a - -b", "a - (b - c)", "a // (b * c)"):
        parsed = expr.parse(text)
        assert expr.parse(expr.to_python(parsed)) == parsed, text


def test_other_input_sizes_are_inferred() -> None:
    network = compile_spec(ROOT / "specs/resnet/resnet50.yaml")
    result = infer_shapes(network, (3, 320, 256))
    assert result.ok and result.shapes["layer4"] == (2048, 10, 8) and result.outputs == [(1000,)]
    broken = infer_shapes(compile_spec(ROOT / "specs/alexnet/alexnet.yaml"), (3, 32, 32))
    assert not broken.ok and "does not fit" in broken.diagnostics.errors[0].message
