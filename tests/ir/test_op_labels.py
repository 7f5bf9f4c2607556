"""What a diagram's box says about each layer: the op and the attributes that define it, written as in
torchvision's docs and papers ("conv 3×3, 64, /2": kernel, channels, stride; "×2" for upsampling), the
attributes at their defaults left out."""

from __future__ import annotations

from pathlib import Path

from archspec.compiler import compile_spec
from archspec.ops import OPS
from archspec.passes.pipeline import Analysis

BODY = """\
  - conv: {name: c1, out: 16, kernel: 3, stride: 2, padding: 1}
  - conv: {name: c2, out: 16, kernel: [1, 7], padding: [0, 6], dilation: 2, groups: 4}
  - conv: {name: c3, out: 16, kernel: 3, stride: [1, 2], padding: 1, dilation: [1, 2]}
  - conv_transpose: {name: t1, out: 8, kernel: 2, stride: 2}
  - maxpool: {name: p1, kernel: 3, stride: 2, padding: 1, indices: true}
  - maxunpool: {name: u1, from: [p1, p1]}
  - avgpool: {name: p2, kernel: [2, 1]}
  - upsample: {name: up1, factor: [2, 1], mode: bilinear}
  - upsample: {name: up2}
  - leaky_relu: {name: a1, slope: 0.2}
  - gelu: {name: a2, approximate: tanh}
  - gelu: {name: a3}
  - layer_norm: {name: n1}
  - scale: {name: s1, init: 0.5}
  - l2norm: {name: s2}
  - channel_shuffle: {name: cs, groups: 2}
  - split: {name: sp1, sizes: [4, 4]}
  - split: {name: sp2, from: cs, chunks: 2}
  - dropout: {name: d1, from: cs, p: 0.25}
  - stochastic_depth: {name: sd, p: 0.125}
  - add: {name: plus, from: [sd, cs]}
  - mul: {name: times, from: [sd, cs]}
  - permute: {name: last, dims: [0, 2, 3, 1]}
  - layer_norm: {name: n2, channels_last: true}
  - pixel_unshuffle: {name: ps1, from: times, factor: 2}
  - pixel_shuffle: {name: ps2, factor: 2}
  - adaptive_avgpool: {name: g1, from: times, size: [2, 1]}
  - adaptive_maxpool: {name: g2, from: times, size: 1}
  - flatten: {name: f}
  - linear: {name: fc, out: 10}
"""

LABELS = [
    ("c1", "conv 3×3, 16, /2"),
    ("c2", "conv 1×7, 16, dilation 2×2, groups 4"),
    ("c3", "conv 3×3, 16, /1×2, dilation 1×2"),
    ("t1", "conv_transpose 2×2, 8, ×2"),
    ("p1", "maxpool 3×3, /2"),
    ("u1", "maxunpool 3×3, ×2"),
    ("p2", "avgpool 2×1, /2×1"),
    ("up1", "upsample ×2×1 bilinear"),
    ("up2", "upsample ×2 nearest"),
    ("a1", "leaky_relu 0.2"),
    ("a2", "gelu tanh"),
    ("a3", "gelu"),
    ("n1", "layer_norm"),
    ("s1", "scale 0.5"),
    ("s2", "l2norm, scale 20"),
    ("cs", "channel_shuffle 2"),
    ("sp1", "split 4 | 4"),
    ("sp2", "split in 2"),
    ("d1", "dropout 0.25"),
    ("sd", "stochastic_depth 0.125"),
    ("plus", "+"),
    ("times", "×"),
    ("last", "permute 0,2,3,1"),
    ("n2", "layer_norm (channels last)"),
    ("ps1", "pixel_unshuffle /2"),
    ("ps2", "pixel_shuffle ×2"),
    ("g1", "adaptive_avgpool to 2×1"),
    ("g2", "adaptive_maxpool to 1×1"),
    ("f", "flatten"),
    ("fc", "linear 10"),
]


def test_every_op_labels_its_layer_with_the_attributes_that_define_it(tmp_path: Path) -> None:
    path = tmp_path / "labels.yaml"
    path.write_text("archspec: 1\nname: labels\ninput: [8, 16, 16]\nbody:\n" + BODY)
    leaves = Analysis(compile_spec(path)).flat.leaves
    assert [(leaf.path, OPS[leaf.node.op].label(leaf.node.attrs)) for leaf in leaves] == LABELS
