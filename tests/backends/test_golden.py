"""Emitted source is stable: regenerate a few shipped specs and compare byte for byte.

Refresh the goldens after an intended change with ``ARCHSPEC_ACCEPT=1 pytest tests/backends/test_golden.py``.
"""

from __future__ import annotations

import pytest

from archspec.backends.pytorch import emit_pytorch
from archspec.compiler import compile_spec

from ..conftest import ACCEPT, ROOT

GOLDEN = ROOT / "tests" / "golden"
CASES = {
    "resnet18": "specs/resnet/resnet18.yaml",
    "resnet50": "specs/resnet/resnet50.yaml",
    "resnext50_32x4d": "specs/resnet/resnext50_32x4d.yaml",
    "vgg16_bn": "specs/vgg/vgg16_bn.yaml",
    "alexnet": "specs/alexnet/alexnet.yaml",
    "skipnet": "tests/specs/skip_two_outputs.yaml",
    "unet": "specs/unet/unet.yaml",
    "resnet18_fpn": "specs/resnet/resnet18_fpn.yaml",
    "segnet": "specs/segnet/segnet.yaml",
    "autoencoder": "specs/autoencoder/autoencoder.yaml",
    "mobilenet_v2": "tests/backends/specs/mobilenet_v2.yaml",
    "repeats_in_blocks": "tests/backends/specs/repeats_in_blocks.yaml",
    "mobilenet_v3_large": "specs/mobilenet/mobilenet_v3_large.yaml",
    "convnext_tiny": "specs/convnext/convnext_tiny.yaml",
    "regnet_y_400mf": "specs/regnet/regnet_y_400mf.yaml",
    "modern_ops": "tests/backends/specs/modern_ops.yaml",
    "yolov2": "specs/yolo/yolov2.yaml",
    "ssd300_vgg16": "specs/ssd/ssd300_vgg16.yaml",
    "faster_rcnn_lecture": "specs/detection/faster_rcnn_lecture.yaml",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_emitted_source_matches_golden(name: str, at_root) -> None:
    source = emit_pytorch(compile_spec(CASES[name]))
    golden = GOLDEN / f"{name}.py"
    if ACCEPT:
        golden.write_text(source)
    assert golden.read_text() == source, f"emitted code for {name} changed; if intended, ARCHSPEC_ACCEPT=1"


def test_emission_is_deterministic(at_root) -> None:
    first = emit_pytorch(compile_spec(CASES["resnet50"]))
    assert all(emit_pytorch(compile_spec(CASES["resnet50"])) == first for _ in range(3))
