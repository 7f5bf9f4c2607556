"""Block classes are written once from the block's definition: correct for every argument, not only for the
instances of the spec. Each case builds a spec, runs the emitted module, compares it with the analysis, and
constructs a block class with arguments no instance has."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec
from archspec.passes.cost import analyse_cost

from ..conftest import import_file

torch = pytest.importorskip("torch")
SPECS = Path(__file__).parent / "specs"


def emitted(name: str, tmp_path: Path):
    network = compile_spec(SPECS / f"{name}.yaml")
    path = tmp_path / f"{name}_emitted.py"
    path.write_text(emit_pytorch(network))
    return network, import_file(path, f"{name}_emitted")


def run_checked(network, module):
    """The network runs at its input, has the analysed parameters and scripts."""
    model = getattr(module, network.name)().eval()
    with torch.no_grad():
        output = model(torch.randn(2, *network.input_shape))
    assert sum(p.numel() for p in model.parameters()) == analyse_cost(network).total.params
    torch.jit.script(model)
    return model, output


def test_nested_blocks_chain_with_symbolic_channels(tmp_path: Path) -> None:
    network, module = emitted("chained_blocks", tmp_path)
    run_checked(network, module)
    source = (tmp_path / "chained_blocks_emitted.py").read_text()
    assert "self.b = ConvBNAct(mid, out, stride=2)" in source and "nn.Conv2d(out, out * 2" in source
    pair = module.Pair(5, 7, 9)  # arguments no instance of the spec has
    assert pair(torch.randn(1, 5, 8, 8)).shape == (1, 18, 4, 4)


def test_optional_merge_is_a_flag_as_torchvision_writes_it(tmp_path: Path) -> None:
    network, module = emitted("optional_residual", tmp_path)
    model, _ = run_checked(network, module)
    source = (tmp_path / "optional_residual_emitted.py").read_text()
    assert "self.use_res_connect = stride == 1 and in_channels == out" in source
    assert [model.b1.use_res_connect, model.b2.use_res_connect, model.b3.use_res_connect] == [True, False, True]
    block = module.InvertedResidual(8, 8).eval()
    x = torch.randn(1, 8, 6, 6)
    with torch.no_grad():
        with_residual = block(x)
        block.use_res_connect = False
        assert torch.allclose(with_residual - block(x), x, atol=1e-6)  # the residual adds exactly the input


def test_repeats_inside_blocks_build_each_copy_from_the_index(tmp_path: Path) -> None:
    network, module = emitted("repeats_in_blocks", tmp_path)
    model, _ = run_checked(network, module)
    source = (tmp_path / "repeats_in_blocks_emitted.py").read_text()
    # A dense block's copy i reads the input and i growths; a head's first conv reads the input, the others
    # the width; optional layers of a copy are appended under their condition.
    assert "[DenseLayer(in_channels + i * growth, growth) for i in range(layers)]" in source
    assert "in_channels if i == 0 else width, width" in source and "            if norm:\n" in source
    assert len(model.head1.conv) == 4 and len(model.head2.conv) == 9
    dense = module.DenseBlock(5, 4, 3)  # arguments no instance of the spec has
    assert dense(torch.randn(1, 5, 6, 6)).shape == (1, 5 + 4 * 3, 6, 6)
    head = module.Head(7, 4, 6, 2, norm=True)
    assert head(torch.randn(1, 7, 6, 6)).shape == (1, 2, 6, 6) and len(head.conv) == 12
    stage = module.Stage(3, 4, 2)
    assert stage(torch.randn(1, 3, 5, 5)).shape == (1, 8, 5, 5) and stage.units[3].relu is None


def test_one_inverted_residual_block_is_torchvision_mobilenet_v2(tmp_path: Path) -> None:
    """The expansion layer and the residual are optional parts of one block class: the emitted network has
    torchvision's state_dict and outputs."""
    torchvision = pytest.importorskip("torchvision")
    network, module = emitted("mobilenet_v2", tmp_path)
    source = (tmp_path / "mobilenet_v2_emitted.py").read_text()
    assert source.count("class InvertedResidual") == 1 and "        if expand_ratio != 1:\n" in source
    torch.manual_seed(0)
    ours, reference = module.mobilenet_v2(), torchvision.models.mobilenet_v2(weights=None)
    ours_state, reference_state = ours.state_dict(), reference.state_dict()
    assert list(ours_state) == list(reference_state)
    assert [v.shape for v in ours_state.values()] == [v.shape for v in reference_state.values()]
    ours.load_state_dict(reference_state)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours.eval()(images) - reference.eval()(images)).abs().max().item() <= 1e-5
    assert analyse_cost(network).total.params == sum(p.numel() for p in reference.parameters())


def test_a_block_chosen_by_parameter_and_shared_layers_inside_a_block(tmp_path: Path) -> None:
    network, module = emitted("choices_and_shares", tmp_path)
    model, _ = run_checked(network, module)
    assert not any(key.split(".")[1] in ("again", "act2") for key in model.state_dict())  # one set of weights
    # Arguments no instance of the spec has (the shared conv takes 8 channels, so the unit must give 8).
    stage = module.Stage(5, "wide", 4)
    assert isinstance(stage.unit, module.Wide) and stage(torch.randn(1, 5, 4, 4)).shape == (1, 8, 4, 4)
    assert isinstance(module.Stage(5, "plain", 8).unit, module.Plain)


def test_an_unnamed_repeat_in_a_seq_appends_its_copies_to_the_seq(tmp_path: Path) -> None:
    """RetinaNet's heads: num_convs conv + ReLU pairs and a last conv, one nn.Sequential numbered 0, 1, 2 …"""
    network, module = emitted("repeat_in_seq", tmp_path)
    model, _ = run_checked(network, module)
    assert [key for key in model.state_dict() if key.startswith("h2.")][-2:] == ["h2.conv.6.weight",
                                                                                  "h2.conv.6.bias"]
    head = module.Head(5, 4, 3)  # arguments no instance of the spec has
    assert head(torch.randn(1, 5, 8, 8)).shape == (1, 2, 8, 8) and len(head.conv) == 9
    assert len(module.Head(5, 0, 3).conv) == 1  # no copies: the last conv reads the input


def test_a_seq_with_named_optional_members_is_an_ordered_dict(tmp_path: Path) -> None:
    """torchvision's RegNet bottleneck `f`: named members, one under a condition; unnamed ones keep the
    position among the members built (a left-out layer takes none), as the compiler numbers them."""
    network, module = emitted("named_optional_seq", tmp_path)
    model, _ = run_checked(network, module)
    source = (tmp_path / "named_optional_seq_emitted.py").read_text()
    assert '        if gate:\n            layers["gate"] = nn.Conv2d(width, width, kernel_size=1)\n' in source
    weights = [key[:-len(".weight")] for key in model.state_dict() if key.endswith(".weight")]
    assert weights == ["u1.f.a", "u1.f.1", "u1.f.gate", "u1.f.3", "u1.f.c",
                       "u2.f.a", "u2.f.1", "u2.f.2", "u2.f.3", "u2.f.c"]
    unit = module.Unit(5, 5, False, 0)  # arguments no instance of the spec has
    assert list(unit.f._modules) == ["a", "1", "c"] and unit(torch.randn(1, 5, 4, 4)).shape == (1, 5, 4, 4)


def test_a_pool_stride_left_to_follow_a_kernel_parameter(tmp_path: Path) -> None:
    """`maxpool: {kernel: k}` in a block whose instances give different `k`: the stride PyTorch defaults to is
    the kernel, so the class writes the stride as `k` too (it once held the default's placeholder, which no
    expression prints: `validate` failed with a TypeError)."""
    path = tmp_path / "pool_by_parameter.yaml"
    path.write_text("archspec: 1\nname: pool_by_parameter\ninput: [2, 12, 12]\nblocks:\n"
                    "  pool:\n    params: {k: 1}\n    body: [maxpool: {name: pool, kernel: k}]\n"
                    "body: [pool, pool: {k: 2}, pool: {k: 3}]\n")
    network = compile_spec(path)
    (tmp_path / "pool_emitted.py").write_text(emit_pytorch(network))
    module = import_file(tmp_path / "pool_emitted.py", "pool_emitted")
    model, output = run_checked(network, module)
    assert output.shape == (2, 2, 2, 2)  # 12 -> 12 -> 6 -> 2
    for k, block in zip((1, 2, 3), (model.pool1, model.pool2, model.pool3)):
        expected = torch.nn.MaxPool2d(k)
        assert (block.pool.kernel_size, block.pool.stride) == (expected.kernel_size, expected.stride) == (k, k)
    assert module.Pool(4).pool.stride == 4  # an argument no instance has
