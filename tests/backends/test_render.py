"""`archspec render`: every shipped spec at every level, the structure of the drawings, goldens, bad input.

Positions come from Graphviz's own layout of the DOT text (pygraphviz), the expected block counts and
parameter totals from torchvision, so the structural checks do not reuse the renderer's reasoning.
Refresh the goldens after an intended change with ``ARCHSPEC_ACCEPT=1 pytest tests/backends/test_render.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from archspec.backends.diagram import LEVELS, RenderOptions, diagram_dot, render
from archspec.backends.diagram.engine import EngineError, _isolated, layout
from archspec.backends.diagram.themes import ERROR_COLOUR, CATEGORIES
from archspec.compiler import compile_partial, compile_spec
from archspec.ops import OPS

from ..conftest import ACCEPT, ROOT, shipped_specs

GOLDEN = ROOT / "tests" / "golden" / "diagrams"
SVG = "{http://www.w3.org/2000/svg}"
EVERYTHING = frozenset({"shapes", "params", "macs", "rf"})


def svg_nodes(data: bytes) -> dict[str, str]:
    """Node id (the <title> Graphviz writes) -> all the text drawn in it."""
    root = ET.fromstring(data)
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "node":
            title = group.find(f"{SVG}title").text
            nodes[title] = " ".join(text.text or "" for text in group.iter(f"{SVG}text"))
    return nodes


def svg_edges(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return [group.find(f"{SVG}title").text for group in root.iter(f"{SVG}g") if group.get("class") == "edge"]


def positions(dot_text: str) -> dict[str, tuple[float, float]]:
    """Where Graphviz puts each node's centre (points; y grows upwards)."""
    import pygraphviz

    graph = pygraphviz.AGraph(string=dot_text)
    graph.layout(prog="dot")
    return {node: tuple(float(v) for v in graph.get_node(node).attr["pos"].split(",")) for node in graph.nodes()}


def draw(spec: str, fmt: str = "svg", **options) -> bytes:
    return render(compile_spec(ROOT / spec), RenderOptions(**options), fmt)[0]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


# ---------------------------------------------------------------- every spec, level and format


@pytest.mark.parametrize("name", sorted(shipped_specs()))
def test_every_shipped_spec_renders_at_every_level(name: str) -> None:
    network = compile_spec(shipped_specs()[name])
    for level in LEVELS:
        data, warnings = render(network, RenderOptions(level=level, show=EVERYTHING), "svg")
        nodes = svg_nodes(data)
        assert warnings == [], (level, warnings)
        assert ":input" in nodes and any(node.startswith(":output") for node in nodes)
        assert len(nodes) > 2 and svg_edges(data), level


@pytest.mark.parametrize("spec", ["specs/resnet/resnet152.yaml", "specs/unet/unet.yaml",
                                  "specs/resnet/resnet50_fpn.yaml", "specs/autoencoder/autoencoder.yaml"])
def test_every_format_without_a_system_graphviz(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The drawing comes from the libraries in the pygraphviz wheel: no `dot` on PATH is needed.
    monkeypatch.setenv("PATH", "")
    for level in LEVELS:
        assert draw(spec, "png", level=level).startswith(b"\x89PNG\r\n\x1a\n")
        assert draw(spec, "pdf", level=level).startswith(b"%PDF-")
        assert draw(spec, "svg", level=level).startswith(b"<?xml")
        assert draw(spec, "dot", level=level).startswith(b"digraph ")


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_stage_level_folds_repeated_blocks(depth: int) -> None:
    import torchvision

    model = getattr(torchvision.models, f"resnet{depth}")()
    nodes = svg_nodes(draw(f"specs/resnet/resnet{depth}.yaml"))
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        blocks = getattr(model, stage)
        assert f"{type(blocks[0]).__name__} ×{len(blocks)}" in nodes[stage], nodes[stage]
    assert not any(re.fullmatch(r"layer\d\.\d+", node) for node in nodes), "blocks are folded at stage level"


def test_block_level_draws_each_block_with_its_shortcut() -> None:
    import torchvision

    model = torchvision.models.resnet50()
    blocks = [name for name, module in model.named_modules() if type(module).__name__ == "Bottleneck"]
    projections = [name for name, _ in model.named_modules() if name.endswith("downsample")]
    dot_text = diagram_dot(compile_spec(ROOT / "specs/resnet/resnet50.yaml"), RenderOptions(level="block"))
    data = layout(dot_text, "svg", 96)[0]
    nodes = svg_nodes(data)
    assert sorted(node for node in nodes if re.fullmatch(r"layer\d\.\d+", node)) == sorted(blocks)
    assert sorted(node for node in nodes if node.endswith(":add")) == sorted(f"{b}:add" for b in blocks)
    shortcuts = re.findall(r'-> "(layer\d\.\d+):add" \[xlabel=<([^>]*)>', dot_text)
    assert sorted(block.rsplit(".", 1)[0] for block, _ in shortcuts) == sorted(
        p.rsplit(".", 2)[0] for p in projections)
    assert all(note.startswith("conv 1×1") and note.endswith("· bn") for _, note in shortcuts)


def test_vgg_stages_follow_the_paper_configuration() -> None:
    from torchvision.models.vgg import cfgs

    stages, run = [], []
    for value in cfgs["D"]:  # VGG-16: widths, "M" for a max-pool
        if value == "M":
            stages.append(run)
            run = []
        else:
            run.append(value)
    nodes = svg_nodes(draw("specs/vgg/vgg16.yaml"))
    drawn = [text for node, text in nodes.items() if node.startswith("features.")]
    assert len(drawn) == len(stages) == 5
    for text, widths in zip(drawn, stages):
        assert f"(conv 3×3, {widths[0]} · relu) ×{len(widths)}" in text and "maxpool 2×2, /2" in text


def test_unet_is_drawn_as_a_u() -> None:
    where = positions(diagram_dot(compile_spec(ROOT / "specs/unet/unet.yaml"), RenderOptions(level="stage")))
    for level in range(1, 5):
        down, up = where[f"down{level}"], where[f"up{5 - level}"]
        assert down[1] == up[1], f"down{level} and up{5 - level} are level"  # the skip is horizontal
        assert down[0] < up[0]
    heights = [where[f"down{level}"][1] for level in range(1, 5)] + [where["bottom"][1]]
    assert heights == sorted(heights, reverse=True), "each encoder level lies below the one before"


def test_fpn_has_horizontal_laterals_and_reads_bottom_up() -> None:
    dot_text = diagram_dot(compile_spec(ROOT / "specs/resnet/resnet50_fpn.yaml"), RenderOptions(level="stage"))
    where = positions(dot_text)
    for level in range(4):
        stage, lateral, output = where[f"body.layer{level + 1}"], where[f"fpn.inner_blocks.{level}"], \
            where[f":output.{level}"]
        assert stage[1] == lateral[1] == output[1]
        assert stage[0] < lateral[0] < output[0]
    assert where["body.layer4"][1] > where["body.layer1"][1], "the coarsest level is drawn at the top"


def test_shared_head_is_drawn_once_and_marked() -> None:
    for level in ("stage", "block"):
        nodes = svg_nodes(draw("tests/specs/skip_two_outputs.yaml", level=level))
        assert "shared, applied 2 times" in nodes["head"]
        assert "head_small" not in nodes


def test_detector_head_shared_across_pyramid_levels_is_drawn_once() -> None:
    dot_text = diagram_dot(compile_spec(ROOT / "specs/resnet/rpn_resnet50_fpn.yaml"), RenderOptions(level="block"))
    nodes = svg_nodes(layout(dot_text, "svg", 96)[0])
    assert "shared, applied 5 times" in nodes["head"]
    assert not any(node.startswith(("head1", "head2", "head3", "head_pool")) for node in nodes)
    levels = [f"fpn.layer_blocks.{level}.0" for level in range(4)] + ["fpn.pool"]
    for level in levels:  # each pyramid level feeds the one head
        assert f'"{level}" -> "head"' in dot_text, level
    assert sum(node.startswith(":output.objectness") for node in nodes) == 5


def test_annotations_agree_with_torchvision_and_the_passes() -> None:
    import torchvision

    from archspec.passes.receptive_field import receptive_fields

    params = sum(p.numel() for p in torchvision.models.resnet50().parameters())
    network = compile_spec(ROOT / "specs/resnet/resnet50.yaml")
    data = render(network, RenderOptions(show=EVERYTHING), "svg")[0]
    text = " ".join(svg_nodes(data).values()) + " ".join(t.text or "" for t in ET.fromstring(data).iter(f"{SVG}text"))
    assert f"{params:,} params" in text
    field = receptive_fields(network).of("layer4")
    assert f"RF {field.size[0]}×{field.size[1]}, stride {field.stride[0]}" in svg_nodes(data)["layer4"]
    assert "2048×7×7" in " ".join(svg_edges(data)) or "2048×7×7" in text
    other = render(network, RenderOptions(input_shape=(3, 160, 160)), "svg")[0]
    assert "2048×5×5" in ET.tostring(ET.fromstring(other), encoding="unicode")


def test_every_op_category_has_a_colour() -> None:
    assert {op.category for op in OPS.values()} <= set(CATEGORIES)


def test_slides_fit_a_16_by_9_slide() -> None:
    for spec in ("specs/resnet/resnet152.yaml", "specs/unet/unet.yaml"):
        root = ET.fromstring(draw(spec, theme="slides", show=frozenset({"shapes", "params"})))
        width, height = (float(root.get(key).removesuffix("pt")) for key in ("width", "height"))
        assert width <= 960 + 1 and height <= 540 + 1, (spec, width, height)  # 13.33 x 7.5 inches


def test_themes_change_colours_not_structure() -> None:
    network = compile_spec(ROOT / "specs/resnet/resnet18.yaml")
    drawings = {theme: render(network, RenderOptions(theme=theme), "svg")[0] for theme in ("paper", "slides", "dark")}
    assert len({tuple(sorted(svg_nodes(data))) for data in drawings.values()}) == 1
    assert b'fill="#1b1d23"' in drawings["dark"].lower()


# ---------------------------------------------------------------- broken specs still render


@pytest.mark.parametrize("case", ["add_channel_mismatch", "concat_spatial_mismatch", "conv_after_flatten"])
def test_invalid_spec_renders_with_the_failing_layer_in_red(case: str, tmp_path: Path) -> None:
    spec = ROOT / "tests" / "bad_specs" / f"{case}.yaml"
    network, errors = compile_partial(spec)
    assert errors
    out = tmp_path / "broken.svg"
    result = run_cli("render", str(spec), "-o", str(out), "--level", "layer")
    assert result.returncode == 1 and "drew" in result.stderr
    assert errors[0].render().splitlines()[0] in result.stderr
    root = ET.fromstring(out.read_bytes())
    failing = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"
               and any((shape.get("stroke") or "").upper() == ERROR_COLOUR for shape in g)]
    assert len(failing) == 1
    text = " ".join(t.text or "" for t in failing[0].iter(f"{SVG}text"))
    assert f"line {errors[0].span.line}" in text


# ---------------------------------------------------------------- bad options, outputs and engines


@pytest.mark.parametrize("args, valid", [
    (["--level", "stages"], "stage, block, layer"),
    (["--theme", "light"], "paper, slides, dark"),
    (["--direction", "up"], "LR, TB, RL, BT"),
    (["--show", "shapes,flops"], "shapes, params, macs, rf"),
    (["--format", "jpg"], "svg, pdf, png, dot"),
])
def test_unknown_option_values_are_usage_errors(args: list[str], valid: str, tmp_path: Path) -> None:
    result = run_cli("render", "specs/resnet/resnet18.yaml", "-o", str(tmp_path / "d.svg"), *args)
    assert result.returncode == 2 and valid in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_input_size_and_json(tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    result = run_cli("render", "specs/resnet/resnet50.yaml", "-o", str(out), "--input", "3x160x160", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["output"] == str(out)
    assert "2048×5×5" in out.read_text(encoding="utf-8")
    result = run_cli("render", "specs/resnet/resnet50.yaml", "-o", str(out.with_suffix(".png")), "--input", "1x224x224")
    assert result.returncode == 1 and re.search(r"resnet\.yaml:\d+:\d+: error: .*3 input channels", result.stderr)
    assert not out.with_suffix(".png").exists()


def test_unknown_output_suffix_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli("render", "specs/resnet/resnet18.yaml", "-o", str(tmp_path / "d.jpeg"))
    assert result.returncode == 2 and "svg, pdf, png, dot" in result.stderr


def test_missing_or_read_only_folder_leaves_nothing(tmp_path: Path) -> None:
    result = run_cli("render", "specs/resnet/resnet18.yaml", "-o", str(tmp_path / "missing" / "d.svg"))
    assert result.returncode == 1 and "does not exist" in result.stderr
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = run_cli("render", "specs/resnet/resnet18.yaml", "-o", str(locked / "d.svg"))
        assert result.returncode == 1 and "cannot write" in result.stderr
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_without_graphviz_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pygraphviz", None)  # makes `import pygraphviz` fail
    with pytest.raises(EngineError, match="pip install pygraphviz"):
        layout("digraph { a }", "svg", 96)
    assert layout("digraph { a }", "dot", 96)[0] == b"digraph { a }"


def test_a_graphviz_crash_becomes_an_error() -> None:
    # Graphviz fails an assertion and aborts; SIGKILL stands in for that (pytest's fault handler
    # would print a traceback for SIGABRT).
    with pytest.raises(EngineError, match="internal error"):
        _isolated(lambda: os.kill(os.getpid(), signal.SIGKILL))


# ---------------------------------------------------------------- goldens

GOLDENS = {
    "resnet50_stage": ("specs/resnet/resnet50.yaml", "stage"),
    "resnet50_block": ("specs/resnet/resnet50.yaml", "block"),
    "vgg16_stage": ("specs/vgg/vgg16.yaml", "stage"),
    "unet_stage": ("specs/unet/unet.yaml", "stage"),
    "resnet50_fpn_stage": ("specs/resnet/resnet50_fpn.yaml", "stage"),
    "rpn_resnet50_fpn_stage": ("specs/resnet/rpn_resnet50_fpn.yaml", "stage"),
}


def graphviz_environment() -> str:
    """Graphviz's version and how it measures text here: SVG goldens hold for that pair only, since
    the bundled Graphviz lays text out with the machine's fonts."""
    probe = layout('digraph { a [label="Bottleneck ×3 · conv 7×7, 64, /2", fontname=Helvetica] }', "svg", 96)[0]
    version = re.search(rb"graphviz version (\S+)", probe).group(1).decode()
    width = re.search(rb'<svg width="([^"]+)"', probe).group(1).decode()
    return f"graphviz {version}, probe width {width}\n"


@pytest.mark.parametrize("name", sorted(GOLDENS))
def test_dot_and_svg_goldens(name: str, at_root) -> None:
    spec, level = GOLDENS[name]
    options = RenderOptions(level=level, show=frozenset({"shapes", "params", "macs"}))
    dot_text = diagram_dot(compile_spec(spec), options)
    svg = layout(dot_text, "svg", 96)[0]
    environment = GOLDEN / "ENVIRONMENT"
    if ACCEPT:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / f"{name}.dot").write_text(dot_text, encoding="utf-8")
        (GOLDEN / f"{name}.svg").write_bytes(svg)
        environment.write_text(graphviz_environment())
    assert (GOLDEN / f"{name}.dot").read_text(encoding="utf-8") == dot_text, \
        f"the DOT text of {name} changed; if intended, ARCHSPEC_ACCEPT=1"
    if environment.read_text() != graphviz_environment():
        pytest.skip(f"SVG golden recorded with {environment.read_text().strip()}, here {graphviz_environment()}")
    assert (GOLDEN / f"{name}.svg").read_bytes() == svg, f"the SVG of {name} changed; if intended, ARCHSPEC_ACCEPT=1"
