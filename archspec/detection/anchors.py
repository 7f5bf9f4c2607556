"""Anchor geometry without torch: per level, the grid, K and the anchor shapes in input pixels.

The shapes follow the runtime's rules (`archspec.backends.pytorch.runtime.boxes`), which are
torchvision's; a test checks that both give the same boxes.

>>> from archspec.compiler import compile_spec
>>> network = compile_spec("specs/yolo/yolov2.yaml")
>>> [level.total for level in anchor_table(network)]
[845]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .spec import Detection, Level, grid_of


@dataclass(frozen=True)
class LevelAnchors:
    index: int
    grid: tuple[int, int]  # rows, columns
    stride: Fraction
    shapes: tuple[tuple[float, float], ...]  # (width, height) in input pixels, the K of one cell
    per_cell: int  # K (YOLOv1 predicts B boxes per cell without priors: no shapes)

    @property
    def total(self) -> int:
        return self.grid[0] * self.grid[1] * self.per_cell

    def centres(self) -> list[tuple[float, float]]:
        """Cell centres (x, y) in pixels, row by row."""
        rows, columns = self.grid
        step = float(self.stride)
        return [((column + 0.5) * step, (row + 0.5) * step) for row in range(rows) for column in range(columns)]

    def to_json(self) -> dict:
        return {"level": self.index, "grid": list(self.grid), "stride": _number(self.stride), "k": self.per_cell,
                "boxes": [[round(w, 4), round(h, 4)] for w, h in self.shapes], "total": self.total}


def level_anchors(detection: Detection, level: Level, input_shape: tuple[int, ...]) -> LevelAnchors:
    height, width = input_shape[1:3]
    if detection.kind == "yolov2":
        cell = float(level.stride)
        shapes = tuple((w * cell, h * cell) for w, h in level.anchors)
    elif detection.kind == "ssd":
        shapes = tuple((min(w, 1.0) * width, min(h, 1.0) * height)
                       for w, h in ssd_shapes(detection.scales, level.index, level.aspect_ratios))
    elif detection.kind in ("rpn", "faster_rcnn"):
        shapes = tuple(_rounded(size / math.sqrt(ratio), size * math.sqrt(ratio))
                       for ratio in level.aspect_ratios for size in level.sizes)
    else:
        shapes = ()
    return LevelAnchors(level.index, grid_of(level, input_shape), level.stride, shapes,
                        detection.anchors_per_cell(level))


def ssd_shapes(scales: tuple[float, ...], k: int, ratios: tuple[float, ...]) -> list[tuple[float, float]]:
    """SSD's default box shapes of level k, relative to the image: two squares, then two boxes per ratio."""
    shapes = [(scales[k], scales[k]), (math.sqrt(scales[k] * scales[k + 1]),) * 2]
    for ratio in ratios:
        shapes += [(scales[k] * math.sqrt(ratio), scales[k] / math.sqrt(ratio)),
                   (scales[k] / math.sqrt(ratio), scales[k] * math.sqrt(ratio))]
    return shapes


def _rounded(width: float, height: float) -> tuple[float, float]:
    # torchvision rounds the corners of an anchor centred on 0, so each side is twice a rounded half.
    return (2.0 * round(width / 2), 2.0 * round(height / 2))


def anchor_table(network: Any, input_shape: tuple[int, ...] | None = None) -> list[LevelAnchors]:
    """Every level's anchors at `input_shape` (default: the spec's input)."""
    shape = tuple(input_shape or network.input_shape)
    return [level_anchors(network.detection, level, shape) for level in network.detection.levels]


def _number(value: Fraction) -> int | str:
    return value.numerator if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def anchors_json(network: Any, levels: list[LevelAnchors], input_shape: tuple[int, ...]) -> dict:
    return {"name": network.name, "kind": network.detection.kind, "input": list(input_shape),
            "levels": [level.to_json() for level in levels], "total": sum(level.total for level in levels)}


def anchors_text(network: Any, levels: list[LevelAnchors], input_shape: tuple[int, ...]) -> str:
    lines = [f"{network.name}: {network.detection.kind} detector, input {'x'.join(map(str, input_shape))}"]
    for level in levels:
        lines.append(f"level {level.index}: grid {level.grid[0]}x{level.grid[1]}, stride {level.stride}, "
                     f"K = {level.per_cell}, {level.total} boxes")
        for w, h in level.shapes:
            lines.append(f"    {w:9.2f} x {h:<9.2f} pixels")
    lines.append(f"total: {sum(level.total for level in levels)} boxes")
    return "\n".join(lines)
