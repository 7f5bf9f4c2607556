"""The PNG of the training curves, drawn with Pillow (no plotting library needed): the losses on one
shared scale, the scores (accuracy, IoU, mAP@0.5) on [0, 1], both against the epoch."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..output import write_atomic

WIDTH, HEIGHT = 900, 380
PANELS = (("loss", ("train_loss", "val_loss", "mse")), ("score", ("top1", "top5", "miou", "map50")))
COLOURS = {"train_loss": (31, 119, 180), "val_loss": (255, 127, 14), "mse": (214, 39, 40),
           "top1": (44, 160, 44), "top5": (148, 103, 189), "miou": (44, 160, 44),
           "map50": (44, 160, 44)}
GREY = (110, 110, 110)


def plot(history: list[dict[str, Any]], path: Path) -> bool:
    """Draw `history` (one dict per epoch); returns False when Pillow is missing (the metrics are in the
    JSON lines either way)."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return False
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for index, (title, names) in enumerate(PANELS):
        series = {name: [(row["epoch"], row[name]) for row in history if name in row] for name in names}
        series = {name: points for name, points in series.items() if points}
        box = (60 + index * WIDTH // 2, 30, (index + 1) * WIDTH // 2 - 30, HEIGHT - 90)
        _panel(draw, box, title, series, unit_range=title == "score")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
    return True


def _panel(draw, box: tuple[int, int, int, int], title: str, series: dict[str, list[tuple[int, float]]],
           unit_range: bool) -> None:
    left, top, right, bottom = box
    draw.rectangle(box, outline=GREY)
    draw.text((left, top - 18), title, fill="black")
    values = [v for points in series.values() for _, v in points]
    if not values:
        draw.text((left + 10, top + 10), "(none for this task)", fill=GREY)
        return
    epochs = [e for points in series.values() for e, _ in points]
    low, high = (0.0, 1.0) if unit_range else (min(values), max(values))
    scale, span = (high - low) or 1.0, (max(epochs) - min(epochs)) or 1

    def at(epoch: int, value: float) -> tuple[float, float]:
        return (left + (right - left) * (epoch - min(epochs)) / span,
                bottom - (bottom - top) * (value - low) / scale)

    for row, (name, points) in enumerate(series.items()):
        colour = COLOURS[name]
        xy = [at(e, v) for e, v in points]
        if len(xy) > 1:
            draw.line(xy, fill=colour, width=2)
        for x, y in xy:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((left + 140 * row, bottom + 40), f"{name}: {points[-1][1]:.4g}", fill=colour)
    draw.text((left - 50, top - 6), f"{high:.3g}", fill=GREY)
    draw.text((left - 50, bottom - 6), f"{low:.3g}", fill=GREY)
    draw.text((left, bottom + 8), f"epoch {min(epochs)}", fill=GREY)
    draw.text((right - 50, bottom + 8), f"epoch {max(epochs)}", fill=GREY)
