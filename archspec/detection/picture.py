"""The anchor picture a lecture shows: an image-sized canvas, each level's grid, and the K anchors of
a few cells drawn at their centres (the centre cell, and a corner cell, of every level). Pillow draws it;
it needs no torch."""

from __future__ import annotations

import io

from .anchors import LevelAnchors

COLOURS = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (128, 128, 0)]


def draw_anchors(levels: list[LevelAnchors], input_shape: tuple[int, ...], scale: int = 2) -> bytes:
    """The PNG bytes of a picture of every level's anchors (the caller writes them, atomically)."""
    from PIL import Image, ImageDraw

    height, width = input_shape[1] * scale, input_shape[2] * scale
    margin = 20 * scale
    image = Image.new("RGB", (width + 2 * margin, height + 2 * margin + 18 * scale * len(levels)), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([margin, margin, margin + width, margin + height], fill=(235, 235, 235), outline="black")
    for level in levels:
        colour = COLOURS[level.index % len(COLOURS)]
        step = float(level.stride) * scale
        if len(levels) == 1:  # one level: its grid lines
            for row in range(1, level.grid[0]):
                draw.line([margin, margin + row * step, margin + width, margin + row * step], fill=(200, 200, 200))
            for column in range(1, level.grid[1]):
                draw.line([margin + column * step, margin, margin + column * step, margin + height],
                          fill=(200, 200, 200))
        centres = level.centres()
        picked = {centres[len(centres) // 2], centres[0]} if centres else set()
        for cx, cy in sorted(picked):
            x, y = margin + cx * scale, margin + cy * scale
            for w, h in level.shapes:
                draw.rectangle([x - w * scale / 2, y - h * scale / 2, x + w * scale / 2, y + h * scale / 2],
                               outline=colour, width=max(1, scale))
            draw.ellipse([x - 2 * scale, y - 2 * scale, x + 2 * scale, y + 2 * scale], fill=colour)
        legend = (f"level {level.index}: grid {level.grid[0]}x{level.grid[1]}, stride {level.stride}, "
                  f"K = {level.per_cell}, {level.total} boxes")
        draw.text((margin, margin * 1.5 + height + 18 * scale * level.index), legend, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
