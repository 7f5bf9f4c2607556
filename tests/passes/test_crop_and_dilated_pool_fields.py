"""The receptive-field rules of a centre crop to a target that is not square, and of dilated pooling, against
what PyTorch reads (the probe of test_resampling_fields.py: light one input row or column, see which output
units change)."""

from __future__ import annotations

import pytest

from .test_resampling_fields import read_by_pytorch, read_by_rule

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.mark.parametrize("target", [(4, 8), (8, 2), (6, 6)])
def test_crop_field_reads_the_centre_of_each_axis(target: tuple[int, int]) -> None:
    height, width = 10, 12
    th, tw = target

    def centre(x):  # the centre by definition: as much cut from the top as from the bottom (even differences)
        top, left = (height - th) // 2, (width - tw) // 2
        return x[..., top:top + th, left:left + tw]

    expected = read_by_pytorch(centre, 1, height, width)
    assert read_by_rule("crop", {}, [(1, height, width), (1, th, tw)], target) == expected


def test_dilated_maxpool_field_spans_the_dilated_window() -> None:
    attrs = {"kernel": (3, 3), "stride": (1, 1), "padding": (0, 0), "dilation": (2, 3), "ceil_mode": False,
             "indices": False}
    height, width = 9, 11
    pool = torch.nn.MaxPool2d(3, 1, 0, dilation=(2, 3))
    output = pool(torch.zeros(1, 1, height, width)).shape[-2:]
    expected = read_by_pytorch(pool, 1, height, width)  # a lit unit is the max of every window holding it
    assert read_by_rule("maxpool", attrs, [(1, height, width)], tuple(output)) == expected
