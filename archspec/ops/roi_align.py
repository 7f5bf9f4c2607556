"""RoI Align: the op of two-stage detectors that crops regions of interest out of shared feature maps."""

from __future__ import annotations

import json
from typing import Any

from .base import Attr, CodeArgs, Reads, Shape, ShapeError, Weightless, call, fmt_shape, prod, register, whole_axis


@register
class RoIAlign(Weightless):
    """Multi-scale RoI Align (He et al., 2017), as torchvision.ops.MultiScaleRoIAlign: every region of
    interest is cut out of the pyramid level that suits its size and resampled to a fixed grid.

    Its inputs are the pyramid levels, finest first; its output is one `C x size x size` crop per region,
    so what follows it runs once per region, not once per image. The regions come from the detector's
    proposal stage at run time, which is why the op lives only in a detector's body (see `detect`)."""

    name = "roi_align"
    arity = (1, None)
    whole_input = True
    output_for_backward = False  # its backward scatters into the levels it read, from the regions' boxes
    category = "pool"
    summary = "multi-scale RoI Align over pyramid levels (torchvision.ops.MultiScaleRoIAlign), one crop per region"
    attrs = {
        "size": Attr("int", 7, minimum=1, doc="the output grid of every region, size x size"),
        "sampling_ratio": Attr("int", 2, minimum=0, doc="bilinear samples per bin and axis (0: adaptive)"),
    }

    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> Shape:
        for index, shape in enumerate(inputs):
            if len(shape) != 3:
                raise ShapeError(f"expects feature maps (C, H, W), got a tensor of shape {fmt_shape(shape)} "
                                 f"as input {index}", hint="RoI Align crops regions out of pyramid levels")
        channels = {shape[0] for shape in inputs}
        if len(channels) > 1:
            listing = ", ".join(fmt_shape(s) for s in inputs)
            raise ShapeError(f"expects levels with one channel count, got {listing}",
                             hint="every level of a feature pyramid has the pyramid's width")
        return (inputs[0][0], attrs["size"], attrs["size"])

    def other_ops(self, attrs: dict[str, Any], inputs: list[Shape], output: Shape) -> int:
        # Per region: every output unit averages ratio x ratio bilinear samples of four reads each.
        samples = max(attrs["sampling_ratio"], 1) ** 2
        return prod(output) * samples * 4

    def rf(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Reads, Reads] | str:
        # Where a region lies is known only at run time: as far as the analysis can say, it may be anywhere.
        return whole_axis(inputs[0][1], 1), whole_axis(inputs[0][2], 1)

    def label(self, attrs: dict[str, Any]) -> str:
        return f"RoI Align {attrs['size']}×{attrs['size']}"

    def emit(self, args: CodeArgs) -> str:
        # The levels by position, as the detector's forward passes them; a roi_align is emitted only in the
        # body (never inside a block class), where the number of its inputs is known.
        names = [str(index) for index in range(args.values["inputs"])]
        return call("MultiScaleRoIAlign", [], [f"featmap_names={json.dumps(names)}", f"output_size={args.src('size')}",
                                               f"sampling_ratio={args.src('sampling_ratio')}"])
