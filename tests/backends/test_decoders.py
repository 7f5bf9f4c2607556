"""Encoder-decoders and feature pyramids: U-Net, SegNet, the autoencoder and FPN, checked against references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec, validate_spec
from archspec.errors import SpecError
from archspec.passes.cost import analyse_cost

from ..conftest import ROOT, import_file

torch = pytest.importorskip("torch")


def build(spec: str | Path, tmp_path: Path):
    network = compile_spec(spec)
    path = tmp_path / f"{network.name}_decoder_test.py"
    path.write_text(emit_pytorch(network))
    return network, getattr(import_file(path, path.stem), network.name)()


def unet_paper_parameters(channels: int = 1, classes: int = 2) -> int:
    """The parameters of Ronneberger et al.'s Fig. 1, layer by layer: 3x3 convs and 2x2 up-convs with biases."""
    conv3 = [(channels, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 512), (512, 512),
             (512, 1024), (1024, 1024),  # contracting path and bottom
             (1024, 512), (512, 512), (512, 256), (256, 256), (256, 128), (128, 128), (128, 64), (64, 64)]
    up2 = [(1024, 512), (512, 256), (256, 128), (128, 64)]
    return (sum(9 * i * o + o for i, o in conv3) + sum(4 * i * o + o for i, o in up2)
            + 64 * classes + classes)


def test_unet_matches_the_paper(tmp_path: Path) -> None:
    network, model = build(ROOT / "specs/unet/unet.yaml", tmp_path)
    assert analyse_cost(network).total.params == unet_paper_parameters()
    assert sum(p.numel() for p in model.parameters()) == unet_paper_parameters()
    assert analyse_cost(network).output_shapes == [(2, 388, 388)]
    small = (1, 188, 188)  # the smallest tile it takes; forward and backward run
    output = model(torch.randn(1, *small))
    assert tuple(output.shape) == (1, 2, 4, 4)
    output.sum().backward()


def test_unet_rejects_570_with_the_nearest_sizes() -> None:
    with pytest.raises(SpecError) as error:
        validate_spec(ROOT / "specs/unet/unet.yaml", input_shape=(1, 570, 570))
    first = error.value.diagnostics[0]
    assert "maxpool 'pool2'" in first.message and "279x279" in first.message
    assert first.hint == "the nearest inputs it takes are 1x556x556 and 1x572x572"


def test_sizes_command_lists_the_tiles_unet_takes() -> None:
    result = subprocess.run([sys.executable, "-m", "cli.main", "sizes", "specs/unet/unet.yaml", "--range",
                             "256:1024", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    sizes = json.loads(result.stdout)["sizes"]
    assert 572 in sizes and 570 not in sizes
    assert {b - a for a, b in zip(sizes, sizes[1:])} == {16}


@pytest.mark.parametrize("depth,width", [(4, 64), (3, 16), (2, 8)])
def test_unet_same_keeps_the_resolution(tmp_path: Path, depth: int, width: int) -> None:
    variant = tmp_path / "unet_small.yaml"
    variant.write_text(f"extends: unet_same.yaml\nname: unet_small\n"
                       f"params: {{depth: {depth}, width: {width}}}\ninput: [3, 64, 96]\n")
    network = compile_spec(variant, spec_path=(ROOT / "specs/unet",))  # the family is on the spec path
    assert analyse_cost(network).output_shapes == [(2, 64, 96)]
    assert len([n for n in network.root.nodes if n.name.startswith("up")]) == depth


def test_unet_same_trains(tmp_path: Path) -> None:
    _, model = build(ROOT / "specs/unet/unet_same.yaml", tmp_path)
    images = torch.randn(2, 3, 64, 64)
    output = model(images)
    assert tuple(output.shape) == (2, 2, 64, 64)
    output.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_segnet_unpools_with_the_encoder_indices(tmp_path: Path) -> None:
    network, model = build(ROOT / "specs/segnet/segnet.yaml", tmp_path)
    source = emit_pytorch(network)
    assert "return_indices=True" in source and "F.max_unpool2d(x, pool5_indices, kernel_size=2)" in source
    model.eval()
    images = torch.randn(1, 3, 64, 64)
    output = model(images)
    assert tuple(output.shape) == (1, 12, 64, 64)
    output.sum().backward()


def test_autoencoder_encodes_and_decodes(tmp_path: Path) -> None:
    _, model = build(ROOT / "specs/autoencoder/autoencoder.yaml", tmp_path)
    images = torch.rand(4, 1, 28, 28)
    codes = model.encode(images)
    assert tuple(codes.shape) == (4, 2)
    assert tuple(model.decode(codes).shape) == (4, 1, 28, 28)
    assert torch.equal(model.decode(codes), model(images))


@pytest.mark.parametrize("name", ["resnet50_fpn", "resnet18_fpn"])
def test_fpn_matches_torchvision(name: str, tmp_path: Path) -> None:
    backbone_utils = pytest.importorskip("torchvision.models.detection.backbone_utils")
    torch.manual_seed(0)
    _, ours = build(ROOT / f"specs/resnet/{name}.yaml", tmp_path)
    torch.manual_seed(0)
    reference = backbone_utils.resnet_fpn_backbone(backbone_name=name.removesuffix("_fpn"), weights=None,
                                                   norm_layer=torch.nn.BatchNorm2d, trainable_layers=5)
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert list(ours_state) == list(reference_state)
    # Under one seed the initial weights are torchvision's, tensor for tensor (the specs' `init`: the body
    # drawn as a whole ResNet, its dropped fc included, then the pyramid's own).
    assert [k for k, v in reference_state.items() if not torch.equal(ours_state[k], v)] == []
    ours.load_state_dict(reference_state)
    ours.eval()
    reference.eval()
    images = torch.randn(2, 3, 224, 192)
    with torch.no_grad():
        mine, theirs = ours(images), reference(images)
    assert list(mine) == list(theirs) == ["0", "1", "2", "3", "pool"]
    for level in theirs:
        assert (mine[level] - theirs[level]).abs().max().item() <= 1e-5, level


def test_region_proposal_network_matches_faster_rcnn(tmp_path: Path) -> None:
    """`body` and `fpn` are Faster R-CNN's `backbone`, `head` its `rpn.head`, shared by the five levels."""
    detection = pytest.importorskip("torchvision.models.detection")
    torch.manual_seed(0)
    _, ours = build(ROOT / "specs/resnet/rpn_resnet50_fpn.yaml", tmp_path)
    torch.manual_seed(0)  # torchvision builds the backbone, then the RPN head: the first of its draws
    reference = detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).eval()
    renamed = {}
    for key, value in reference.state_dict().items():
        if key.startswith(("backbone.", "rpn.head.")):
            renamed[key.replace("backbone.", "", 1).replace("rpn.head.", "head.", 1)] = value
    ours_state = ours.state_dict()
    assert list(ours_state) == list(renamed)
    assert [k for k, v in renamed.items() if not torch.equal(ours_state[k], v)] == []  # the initial weights
    ours.load_state_dict(renamed)
    ours.eval()
    images = torch.randn(1, 3, 224, 192)
    with torch.no_grad():
        mine = ours(images)
        objectness, deltas = reference.rpn.head(list(reference.backbone(images).values()))
    for index, level in enumerate(["0", "1", "2", "3", "_pool"]):
        assert (mine[f"objectness{level}"] - objectness[index]).abs().max().item() <= 1e-5, level
        assert (mine[f"deltas{level}"] - deltas[index]).abs().max().item() <= 1e-5, level


def test_rf_reports_every_fpn_level() -> None:
    result = subprocess.run([sys.executable, "-m", "cli.main", "rf", "specs/resnet/resnet50_fpn.yaml", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    nodes = {n["name"]: n for n in json.loads(result.stdout)["nodes"]}
    strides = {level: nodes[f"fpn.{level}"]["stride"] for level in ("0", "1", "2", "3", "pool")}
    assert strides == {"0": [4, 4], "1": [8, 8], "2": [16, 16], "3": [32, 32], "pool": [64, 64]}


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_concat_of_mismatched_skip_names_both_tensors(tmp_path: Path) -> None:
    bad = spec(tmp_path, "input: [3, 32, 32]\nbody:\n  - conv: {name: skip, out: 8, kernel: 3, padding: 1}\n"
                         "  - maxpool: {name: down, kernel: 2}\n  - concat: {from: [skip, down]}\n")
    with pytest.raises(SpecError) as error:
        compile_spec(bad)
    message = error.value.diagnostics[0].headline()
    assert ":5:5:" in message and "'skip' is 8x32x32" in message and "'down' is 8x16x16" in message


def test_add_with_different_channels_is_located(tmp_path: Path) -> None:
    bad = spec(tmp_path, "input: [3, 32, 32]\nbody:\n  - conv: {name: a, out: 8, kernel: 1}\n"
                         "  - conv: {name: b, out: 16, kernel: 1}\n  - add: {from: [a, b]}\n")
    with pytest.raises(SpecError) as error:
        compile_spec(bad)
    assert "'a' is 8x32x32, 'b' is 16x32x32" in error.value.diagnostics[0].message


def test_unpooling_with_another_pools_indices_fails_at_validation(tmp_path: Path) -> None:
    bad = spec(tmp_path, "input: [3, 32, 32]\nbody:\n  - maxpool: {name: p1, kernel: 2, indices: true}\n"
                         "  - maxpool: {name: p2, kernel: 2, indices: true}\n  - maxunpool: {from: [_, p1]}\n")
    with pytest.raises(SpecError) as error:
        compile_spec(bad)
    first = error.value.diagnostics[0]
    assert (first.span.line, first.span.column) == (5, 5)
    assert "unpools a 3x8x8 tensor with the indices of a 3x16x16 pooling" in first.message
    other = spec(tmp_path, "input: [3, 32, 32]\nbody:\n  - maxpool: {name: p1, kernel: 2, indices: true}\n"
                           "  - maxunpool: {from: [_, p1], kernel: 3}\n")
    with pytest.raises(SpecError) as error:
        compile_spec(other)
    assert "has kernel [3, 3] but the max-pool 'p1' has [2, 2]" in error.value.diagnostics[0].message


@pytest.mark.parametrize("body,message", [
    ("  - maxpool: {kernel: 2, indices: true}\n", "cannot be part of a 'seq'"),
])
def test_pool_indices_inside_a_seq_is_refused(tmp_path: Path, body: str, message: str) -> None:
    bad = spec(tmp_path, "input: [3, 8, 8]\nbody:\n  - seq:\n      name: s\n      body:\n    " + body)
    with pytest.raises(SpecError) as error:
        compile_spec(bad)
    assert message in error.value.diagnostics[0].message


@pytest.mark.parametrize("names,message", [
    (["gaps.0", "gaps.2"], "module list 'gaps' has no member 1"),
    (["heads.train"], "shadow"),
    (["heads.0", "heads"], "'heads' already holds 'heads.0'"),
    (["mixed.0", "mixed.a"], "mixes indices and keys"),
])
def test_module_list_names_are_checked(tmp_path: Path, names: list[str], message: str) -> None:
    layers = "".join(f"  - conv: {{name: {n}, out: 4, kernel: 1, from: input}}\n" for n in names)
    with pytest.raises(SpecError) as error:
        validate_spec(spec(tmp_path, "input: [3, 8, 8]\nbody:\n" + layers))
    assert any(message in d.message for d in error.value.diagnostics), error.value


def test_groups_with_one_named_output_and_clashing_classes(tmp_path: Path) -> None:
    good = spec(tmp_path, "name: g\ninput: [3, 8, 8]\nbody:\n  - group:\n      name: stem\n"
                          "      outputs: {features: c}\n      body: [conv: {name: c, out: 4, kernel: 3}]\n"
                          "  - relu\n")
    _, model = build(good, tmp_path)
    assert tuple(model(torch.randn(1, 3, 8, 8)).shape) == (1, 4, 6, 6)
    clash = spec(tmp_path, "name: g\ninput: [3, 8, 8]\nbody:\n"
                           "  - group: {name: a, class: Part, body: [relu]}\n"
                           "  - group: {name: b, class: Part, body: [relu]}\n")
    with pytest.raises(SpecError) as error:
        validate_spec(clash)
    assert "class name 'Part' is already the class of group 'a'" in error.value.diagnostics[0].message


def test_after_a_linear_layer_every_unit_sees_the_whole_input() -> None:
    from archspec.passes.receptive_field import receptive_fields

    fields = receptive_fields(compile_spec(ROOT / "specs/autoencoder/autoencoder.yaml"))
    decoder = fields.of("decoder")
    assert decoder.stride == (0, 0) and decoder.size[0] >= 28 and decoder.size == fields.of("encoder").size
