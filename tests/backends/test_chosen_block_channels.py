"""A `$param` call builds whichever class the parameter names with the same arguments: when one of the
classes reads its input channels, every one of them takes them, also one that does not read them (the
emitted network is built and run here), also one built directly before the call that chooses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..passes.test_emittable_chosen_blocks import CHOSEN

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("text", [CHOSEN, CHOSEN.replace("body:\n  - stage", "body:\n  - b\n  - stage")],
                         ids=["chosen", "built-before"])
def test_every_chosen_class_takes_the_channels(tmp_path: Path, text: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    source = emit_pytorch(compile_spec(path))
    assert "class B(nn.Module):\n    def __init__(self, in_channels: int) -> None:" in source
    namespace: dict = {}
    exec(compile(source, "net.py", "exec"), namespace)  # noqa: S102 (the emitted file)
    x = torch.rand(1, 4, 8, 8)
    assert namespace["Net"]()(x).shape == x.shape
