"""Shape and receptive-field rules at the edges no shipped spec reaches, each against PyTorch or against the
rule's definition written out by brute force: the largest output_padding a transposed convolution takes, a
crop larger on one side only, pooling that must tile its input exactly with a dilated window, the
receptive field of an unpooling with padding, and an average pool (which has no dilation) at its default."""

from __future__ import annotations

import pytest

from archspec.ops import OPS, ShapeError
from archspec.ops.base import window, window_out

torch = pytest.importorskip("torch")


def _pairs(**values: int) -> dict[str, tuple[int, int]]:
    return {name: (value, value) for name, value in values.items()}


def _conv_transpose(stride: int, dilation: int, output_padding: int) -> dict:
    return {"in": 1, "out": 1, "groups": 1, "bias": True,
            **_pairs(kernel=3, stride=stride, padding=0, dilation=dilation, output_padding=output_padding)}


@pytest.mark.parametrize("stride, dilation, output_padding", [(2, 1, 1), (2, 1, 2), (1, 2, 1), (1, 2, 2), (3, 2, 2)])
def test_conv_transpose_takes_output_padding_below_its_stride_or_dilation_as_pytorch_does(
        stride: int, dilation: int, output_padding: int) -> None:
    module = torch.nn.ConvTranspose2d(1, 1, 3, stride, dilation=dilation, output_padding=output_padding)
    attrs = _conv_transpose(stride, dilation, output_padding)
    try:
        expected = tuple(module(torch.zeros(1, 1, 5, 5)).shape[1:])
    except RuntimeError:  # "output padding must be smaller than either stride or dilation"
        with pytest.raises(ShapeError) as raised:
            OPS["conv_transpose"].infer(attrs, [(1, 5, 5)])
        assert raised.value.message == (f"output_padding {output_padding} must be smaller than the stride or "
                                        "the dilation")
        return
    assert OPS["conv_transpose"].infer(attrs, [(1, 5, 5)]) == expected


@pytest.mark.parametrize("target", [(3, 10, 4), (3, 4, 10), (3, 10, 10)])
def test_crop_refuses_a_target_larger_on_either_side(target: tuple[int, int, int]) -> None:
    with pytest.raises(ShapeError) as raised:
        OPS["crop"].infer({}, [(3, 8, 8), target])
    assert raised.value.message == f"cannot crop 8x8 to the larger {target[1]}x{target[2]}"


def test_crop_takes_a_target_of_the_same_size() -> None:
    assert OPS["crop"].infer({}, [(3, 8, 6), (5, 8, 6)]) == (3, 8, 6)


def _exact_maxpool(kernel: int, stride: int, padding: int, dilation: int) -> dict:
    return {"ceil_mode": False, "exact": True, **_pairs(kernel=kernel, stride=stride, padding=padding,
                                                        dilation=dilation)}


@pytest.mark.parametrize("size", range(7, 13))
@pytest.mark.parametrize("kernel, stride, padding, dilation", [(3, 2, 0, 2), (2, 3, 1, 3), (3, 2, 1, 2), (3, 3, 0, 2),
                                                            (2, 3, 1, 1)])
def test_exact_maxpool_with_a_dilation_refuses_what_pytorch_would_drop(
        size: int, kernel: int, stride: int, padding: int, dilation: int) -> None:
    """The rows PyTorch reads are those of its last window; the rest of the padded input is dropped."""
    pool = torch.nn.MaxPool2d(kernel, stride, padding, dilation)
    out = pool(torch.zeros(1, 1, size, size)).shape[-1]
    dropped = size + 2 * padding - ((out - 1) * stride + dilation * (kernel - 1) + 1)
    attrs = _exact_maxpool(kernel, stride, padding, dilation)
    if not dropped:
        assert OPS["maxpool"].infer(attrs, [(1, size, size)]) == (1, out, out)
        return
    with pytest.raises(ShapeError) as raised:
        OPS["maxpool"].infer(attrs, [(1, size, size)])
    assert raised.value.message == (f"would drop the last {dropped} row(s) or column(s) of its {size}x{size} "
                                    "input ('exact: true' asks for windows that tile it)")


@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 2, 1), (3, 3, 1), (3, 1, 1)])
def test_maxunpool_with_padding_reads_every_pooled_unit_whose_window_holds_it(
        kernel: int, stride: int, padding: int) -> None:
    """Pooled unit i's window is i*s - p … i*s - p + k - 1; an unpooled unit reads the units whose window it
    is in (the maximum may have been anywhere in it)."""
    pooled = 6
    attrs = _pairs(kernel=kernel, stride=stride, padding=padding)
    rows, columns = OPS["maxunpool"].rf(attrs, [(1, pooled, pooled), (1, pooled, pooled)])
    for o in range(-2, pooled * stride + 2):
        holding = [i for i in range(-3, pooled + 3) if i * stride - padding <= o <= i * stride - padding + kernel - 1]
        assert sorted(rows.units(o)) == holding, o
        assert sorted(columns.units(o)) == holding, o


def test_avgpool_has_no_dilation_and_slides_its_window_over_neighbouring_units() -> None:
    attrs = {"kernel": (3, 2), "stride": (1, 2), "padding": (1, 0), "ceil_mode": False, "count_include_pad": True,
             "exact": True}
    expected = tuple(torch.nn.AvgPool2d((3, 2), (1, 2), (1, 0))(torch.zeros(1, 2, 7, 8)).shape[1:])
    assert OPS["avgpool"].infer(attrs, [(2, 7, 8)]) == expected == (2, 7, 4)
    rows, columns = OPS["avgpool"].rf(attrs, [(2, 7, 8)])
    assert [list(rows.units(o)) for o in range(3)] == [[-1, 0, 1], [0, 1, 2], [1, 2, 3]]
    assert [list(columns.units(o)) for o in range(3)] == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize("kernel, stride, padding", [(3, 2, 1), (2, 2, 0), (3, 1, 0), (5, 3, 2)])
def test_window_helpers_default_to_an_undilated_window_rounded_down(kernel: int, stride: int, padding: int) -> None:
    """`window_out` and `window` without a dilation (or ceil_mode) are PyTorch's pooling defaults."""
    pool = torch.nn.MaxPool2d(kernel, stride, padding)
    for size in range(kernel, 12):
        assert window_out(size, kernel, stride, padding) == pool(torch.zeros(1, 1, size, size)).shape[-1], size
    assert [list(window(kernel, stride, padding).units(o)) for o in range(2)] == [
        list(range(o * stride - padding, o * stride - padding + kernel)) for o in range(2)]
