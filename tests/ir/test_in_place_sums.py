"""The residual sum overwrites its first input (`out += identity`, as torchvision's blocks write it) only
where that input is a fresh tensor that nothing else reads and whose producer's backward does not need it."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.ops import OPS
from archspec.ops.base import register

from .test_op_facts import _Scaled

HEAD = "archspec: 1\nname: sums\ninput: [4, 8, 8]\nbody:\n  - conv: {name: c, out: 4, kernel: 3, padding: 1}\n"


def in_place(tmp_path: Path, body: str) -> dict[str, bool]:
    (tmp_path / "sums.yaml").write_text(HEAD + body)
    network = compile_spec(tmp_path / "sums.yaml")
    return {node.name: node.in_place for node in network.root.nodes if node.op == "add"}


@pytest.mark.parametrize("body, expected", [
    # A batch norm's output, read by the sum alone: overwritten, as in a ResNet block.
    ("  - bn: {name: b}\n  - add: {name: s, from: [b, c]}\n", True),
    # The first input is the network's input, which the caller still holds.
    ("  - bn: {name: b}\n  - add: {name: s, from: [input, b]}\n", False),
    # A ReLU's output is what its backward reads.
    ("  - relu: {name: r}\n  - add: {name: s, from: [r, input]}\n", False),
    # Another layer still reads the first input after the sum.
    ("  - bn: {name: b}\n  - add: {name: s, from: [b, c]}\n  - add: {name: t, from: [b, s]}\n", False),
    # A [C, 1, 1] first input broadcasts into a larger sum: it cannot hold the result.
    ("  - adaptive_avgpool: {name: g, size: 1}\n  - add: {name: s, from: [g, c]}\n", False),
])
def test_in_place_only_where_safe(tmp_path: Path, body: str, expected: bool) -> None:
    assert in_place(tmp_path, body)["s"] is expected


def test_the_emitted_sum_overwrites_and_still_trains(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from archspec.backends.pytorch import emit_pytorch

    from ..conftest import import_file

    (tmp_path / "sums.yaml").write_text(HEAD + "  - bn: {name: b}\n  - add: {from: [b, input]}\n  - relu\n")
    source = emit_pytorch(compile_spec(tmp_path / "sums.yaml"))
    assert "        x_2 += x\n" in source, source  # the running value, overwritten
    (tmp_path / "sums.py").write_text(source)
    model = import_file(tmp_path / "sums.py", "sums_in_place").sums()
    images = torch.randn(2, 4, 8, 8, requires_grad=True)
    model(images).sum().backward()  # autograd finds nothing it needs overwritten
    scripted = torch.jit.script(model)
    assert torch.allclose(scripted(images), model(images))


def test_register_refuses_an_in_place_op_without_its_statement() -> None:
    class Unwritten(_Scaled):
        name = "unwritten_for_test"
        in_place = True

    with pytest.raises(TypeError, match="emit_in_place"):
        register(Unwritten)
    assert "unwritten_for_test" not in OPS
