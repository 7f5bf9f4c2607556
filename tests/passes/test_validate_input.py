"""`validate` at an input size other than the spec's checks the shapes at that size, and points a refused
size at the nearest ones the network takes (found here by trying every size with PyTorch's arithmetic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archspec.compiler import compile_spec
from archspec.errors import SpecError
from archspec.passes.shapes import check_input, nearest_accepted
from archspec.passes.validate import validate

SPEC = """archspec: 1
name: tiled
input: [3, 34, 34]
body:
  - conv: {out: 4, kernel: 3}
  - maxpool: {kernel: 2, exact: true}
"""


def takes(size: int) -> bool:
    """A 3x3 convolution without padding, then a 2x2 pool that must tile its input."""
    return (size - 2) % 2 == 0 and size >= 4


def test_validate_checks_the_shapes_at_the_input_it_is_given(tmp_path: Path) -> None:
    path = tmp_path / "tiled.yaml"
    path.write_text(SPEC)
    network = compile_spec(path)
    validate(network, (3, 36, 36))
    with pytest.raises(SpecError) as raised:
        validate(network, (3, 33, 33))
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.span.line == 6 and "of its 31x31 input" in diagnostic.message
    below = max(size for size in range(4, 33) if takes(size))
    above = min(size for size in range(34, 64) if takes(size))
    assert diagnostic.hint == f"the nearest inputs it takes are 3x{below}x{below} and 3x{above}x{above}"


FIXED = """input: [3, {size}, {size}]
body:
  - flatten
  - linear: {{out: 2}}
"""  # a linear layer after flatten takes only the spec's own input size


def refused_hint(tmp_path: Path, size: int, at: int) -> str | None:
    path = tmp_path / f"fixed{size}.yaml"
    path.write_text(FIXED.format(size=size))
    with pytest.raises(SpecError) as raised:
        validate(compile_spec(path), (3, at, at))
    return raised.value.diagnostics[0].hint


def test_the_nearest_sizes_are_searched_256_steps_each_way(tmp_path: Path) -> None:
    assert refused_hint(tmp_path, 258, 2) == "the nearest inputs it takes are 3x258x258"  # 256 steps up
    # 257 steps up is past the search: the hint is the layer's own
    assert refused_hint(tmp_path, 258, 1) == ("the spatial size before 'flatten' differs from the one this layer "
                                              "was built for; an adaptive pool before 'flatten' makes it "
                                              "independent of the input size")


def test_the_nearest_size_below_may_be_one_pixel(tmp_path: Path) -> None:
    assert refused_hint(tmp_path, 1, 2) == "the nearest inputs it takes are 3x1x1"


def test_the_nearest_sizes_have_no_side_below_one_pixel(tmp_path: Path) -> None:
    """Both sides move alike: from 1x5 the next size down would be 0x4, which is no image."""
    path = tmp_path / "every_size.yaml"
    path.write_text("input: [3, 8, 8]\nbody:\n  - relu: {}\n")  # takes every size
    assert nearest_accepted(compile_spec(path), (3, 1, 5)) == (None, (3, 2, 6))


def test_validate_at_another_input_checks_the_detector_there(tmp_path: Path) -> None:
    """The head (a 2x2 conv of stride 2) takes any size, but its map is the grid the level's stride assumes,
    ceil(size / 2), only for even sizes: at 9 the grid is 5x5 and the map floor((9 - 2) / 2) + 1 = 4."""
    path = tmp_path / "detector.yaml"
    path.write_text("input: [3, 8, 8]\nparams: {classes: 3}\nbody:\n"
                    "  - conv: {name: head, out: 2 * (5 + classes), kernel: 2, stride: 2}\n"
                    "detect:\n  kind: yolov2\n  classes: classes\n"
                    "  levels:\n    - {output: head, stride: 2, anchors: [[1, 1], [2, 2]]}\n")
    network = compile_spec(path)
    check_input(network, (3, 9, 9))  # the shapes alone are fine
    validate(network, (3, 10, 10))
    with pytest.raises(SpecError) as raised:
        validate(network, (3, 9, 9))
    (diagnostic,) = raised.value.diagnostics
    assert diagnostic.headline() == (f"{path}:9:30: error: level 0 assumes a 5x5 grid (stride 2 at input 9x9), "
                                     "but output 'head' is 4x4")
    assert diagnostic.hint == "the nearest inputs it takes are 3x8x8 and 3x10x10"
