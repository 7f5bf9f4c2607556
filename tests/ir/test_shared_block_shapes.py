"""A block applied again with the weights of an earlier call (`share:`) has its output shape worked out
while lowering, at its own input's size, so the layers after it infer their input channels from it."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec

SPEC = """archspec: 1
name: shared
input: [3, 16, 16]
blocks:
  head:
    params: {classes: int}
    body:
      - conv: {name: conv, out: 8, kernel: 3, padding: 1}
      - conv: {name: classifier, out: classes, kernel: 1}
body:
  - conv: {name: stem, out: 8, kernel: 3, padding: 1}
  - head: {name: head, from: stem, classes: 5}
  - maxpool: {name: down, from: stem, kernel: 2}
  - head: {name: small, from: down, share: head}
  - conv: {name: after, out: 4, kernel: 8}
"""


def test_a_shared_block_call_has_the_shape_of_its_own_input(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    path.write_text(SPEC)
    nodes = {node.name: node for node in compile_spec(path).root.nodes}
    assert nodes["small"].shares == "head"
    # the head keeps the size of what it is given (3x3 with padding 1, then 1x1): 8x8 after the pool
    assert (nodes["head"].shape, nodes["small"].shape) == ((5, 16, 16), (5, 8, 8))
    assert nodes["after"].attrs["in"] == 5 and nodes["after"].shape == (4, 1, 1)
