"""The PNG of the training curves, drawn with Pillow (no plotting library needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..output import write_atomic

WIDTH, HEIGHT, MARGIN = 720, 400, 56
COLOURS = {"train_loss": (31, 119, 180), "val_loss": (255, 127, 14), "top1": (44, 160, 44), "top5": (148, 103, 189),
           "miou": (44, 160, 44), "mse": (214, 39, 40)}


def plot(history: list[dict[str, Any]], path: Path) -> bool:
    """Draw every metric of `history` (one dict per epoch) against the epoch, each scaled to its own range;
    returns False when Pillow is missing (the metrics are in the JSON lines either way)."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return False
    import io

    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = MARGIN, 24, WIDTH - 150, HEIGHT - MARGIN
    draw.rectangle([left, top, right, bottom], outline=(120, 120, 120))
    epochs = [row["epoch"] for row in history]
    span = max(max(epochs) - min(epochs), 1)
    for row, (name, colour) in enumerate((n, c) for n, c in COLOURS.items() if any(n in h for h in history)):
        values = [(h["epoch"], h[name]) for h in history if name in h]
        low, high = min(v for _, v in values), max(v for _, v in values)
        scale = (high - low) or 1.0
        points = [(left + (right - left) * (e - min(epochs)) / span,
                   bottom - (bottom - top) * (v - low) / scale) for e, v in values]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((right + 12, top + 18 * row), f"{name} {values[-1][1]:.4g}", fill=colour)
        draw.text((right + 12, top + 18 * row + 9), f"  [{low:.3g}, {high:.3g}]", fill=(110, 110, 110))
    draw.text((left, bottom + 10), f"epoch {min(epochs)}", fill="black")
    draw.text((right - 50, bottom + 10), f"epoch {max(epochs)}", fill="black")
    draw.text((left, 6), "each curve scaled to its own range (shown at the right)", fill=(90, 90, 90))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    write_atomic(path, buffer.getvalue())
    return True
