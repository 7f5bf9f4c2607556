"""A small synthetic detection data set, generated deterministically: nothing to download.

Each image has a textured background (a colour gradient, stripes at a random angle and noise) and one
to `max_objects` shapes of three classes — filled rectangles, ellipses and triangles — of random size and
colour, with their boxes. Needs torch; imported by tests and scripts only.

Labels follow torchvision's detectors: 1 … classes, 0 being the background (pass `first_label=0` for
YOLO's 0 … C - 1).
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor

SHAPES = ("rectangle", "ellipse", "triangle")


def synthetic_detection(count: int, size: int = 128, seed: int = 0, max_objects: int = 3,
                        min_fraction: float = 0.15, max_fraction: float = 0.5, first_label: int = 1
                        ) -> Tuple[List[Tensor], List[Dict[str, Tensor]]]:
    """`count` images (3, size, size) with values in [0, 1], and per image {boxes, labels}."""
    generator = torch.Generator().manual_seed(seed)
    images, targets = [], []
    for _ in range(count):
        image = _background(size, generator)
        boxes, labels = [], []
        for _ in range(int(torch.randint(1, max_objects + 1, (1,), generator=generator))):
            shape = int(torch.randint(len(SHAPES), (1,), generator=generator))
            box = _draw(image, SHAPES[shape], size, min_fraction, max_fraction, generator)
            boxes.append(box)
            labels.append(shape + first_label)
        images.append(image.clamp(0, 1))
        targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32),
                        "labels": torch.tensor(labels, dtype=torch.int64)})
    return images, targets


def _uniform(generator: torch.Generator, low: float, high: float, shape: Tuple[int, ...] = ()) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _background(size: int, generator: torch.Generator) -> Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = _uniform(generator, 0.2, 0.8, (3, 1, 1))
    tilt = _uniform(generator, -0.2, 0.2, (3, 1, 1))
    angle = float(_uniform(generator, 0, math.pi))
    period = float(_uniform(generator, 6, 20))
    stripes = torch.sin((x * math.cos(angle) + y * math.sin(angle)) * size * 2 * math.pi / period)
    noise = 0.05 * torch.randn((3, size, size), generator=generator)
    return base + tilt * (x + y - 1) + 0.08 * stripes + noise


def _draw(image: Tensor, shape: str, size: int, min_fraction: float, max_fraction: float,
          generator: torch.Generator) -> List[float]:
    width = float(_uniform(generator, min_fraction, max_fraction)) * size
    height = min(width * math.exp(float(_uniform(generator, -0.7, 0.7))), max_fraction * size)  # aspect 1/2 … 2
    x1 = float(_uniform(generator, 0, size - width))
    y1 = float(_uniform(generator, 0, size - height))
    colour = _uniform(generator, 0, 1, (3, 1, 1))
    # Only the pixels of the box can change: work on that window of the image.
    left, top = int(x1), int(y1)
    right, bottom = min(size, int(math.ceil(x1 + width))), min(size, int(math.ceil(y1 + height)))
    y, x = torch.meshgrid(torch.arange(top, bottom) + 0.5, torch.arange(left, right) + 0.5, indexing="ij")
    u, v = (x - x1) / width, (y - y1) / height  # position in the shape's box, 0 … 1
    if shape == "rectangle":
        mask = (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    elif shape == "ellipse":
        mask = (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25
    else:  # apex at the top centre, base along the bottom
        mask = (v <= 1) & (v >= 0) & ((u - 0.5).abs() <= v / 2)
    window = image[:, top:bottom, left:right]
    window[:, mask] = colour.expand_as(window)[:, mask]
    return [x1, y1, x1 + width, y1 + height]
