"""Families that grow: the ResNet family exposes the bottleneck's groups and width, as torchvision's ResNet
constructor does, so ResNeXt and Wide ResNet are short variants of it; anything it does not expose is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError

from ..conftest import SPECS


@pytest.mark.parametrize("name", ["resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"])
def test_grown_variants_are_short(name: str) -> None:
    text = (SPECS / "resnet" / f"{name}.yaml").read_text()
    assert len(text.splitlines()) <= 10 and "blocks:" not in text and "extends: resnet.yaml" in text


def test_the_grouped_width_reaches_the_bottleneck() -> None:
    network = compile_spec(SPECS / "resnet" / "resnext50_32x4d.yaml")
    first = network.root.node("layer1").child.node("0").child
    conv2 = first.node("conv2")
    assert (conv2.attrs["out"], conv2.attrs["groups"]) == (128, 32)  # 64 planes * 4 / 64 * 32 groups
    assert first.node("conv3").attrs["out"] == 256


def test_a_parameter_the_family_does_not_expose_is_a_located_error(tmp_path: Path) -> None:
    shutil.copy(SPECS / "resnet" / "resnet.yaml", tmp_path / "resnet.yaml")
    variant = tmp_path / "resnext.yaml"
    variant.write_text("archspec: 1\nextends: resnet.yaml\nname: resnext\nparams:\n  groups: 32\n  base_width: 4\n")
    with pytest.raises(SpecError) as raised:
        compile_spec(variant)
    (diagnostic,) = raised.value.diagnostics
    assert (diagnostic.span.file.endswith("resnext.yaml"), diagnostic.span.line, diagnostic.span.column) == (
        True, 6, 3)
    assert "unknown parameter 'base_width'" in diagnostic.message
    assert "width_per_group" in (diagnostic.hint or "")
