"""Colours and type for diagrams: three themes over one colour-blind-safe palette.

The op-kind colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal
Design"), distinguishable with every common colour-vision deficiency; failed
layers use its vermillion and a heavy border, which no op kind shares.
"""

from __future__ import annotations

from dataclasses import dataclass

# Op.category -> (border colour, name in the legend). Every registered category must be here (tested).
CATEGORIES: dict[str, tuple[str, str]] = {
    "conv": ("#0072B2", "convolution"),
    "norm": ("#56B4E9", "normalisation"),
    "activation": ("#F0E442", "activation"),
    "pool": ("#E69F00", "pooling"),
    "linear": ("#009E73", "linear"),
    "resample": ("#CC79A7", "resampling"),
    "merge": ("#999999", "merge"),
    "reshape": ("#B0B0B0", "reshape"),
    "regularise": ("#B0B0B0", "dropout"),
    "other": ("#B0B0B0", "other"),
}
ERROR_COLOUR = "#D55E00"


@dataclass(frozen=True)
class Theme:
    name: str
    background: str
    text: str
    muted: str  # annotations: shapes, parameters, notes
    edge: str
    cluster: str
    font: str
    size: float  # points, for titles and descriptions
    small: float  # points, for annotations
    nodesep: float  # inches between boxes of one rank
    ranksep: float  # inches between ranks
    pen: float
    tint: float  # share of the op colour in a box's fill; the rest is the background
    page: str | None = None  # largest drawing in inches, "width,height" (slides: 16:9)
    png_dpi: int = 144
    row: int = 8  # boxes in a row, when a long chain is wrapped

    def fill(self, colour: str) -> str:
        """The op colour mixed into the background, for a box's fill."""
        return _mix(colour, self.background, self.tint)


THEMES = {
    "paper": Theme("paper", "#FFFFFF", "#1A1A1A", "#555555", "#404040", "#9A9A9A", "Helvetica", 10, 8,
                   0.2, 0.3, 1.0, 0.22),
    # Large type for a projector; the drawing is scaled to fit a 16:9 slide of 13.33 x 7.5 inches.
    "slides": Theme("slides", "#FFFFFF", "#111111", "#444444", "#333333", "#8C8C8C", "Helvetica", 20, 15,
                    0.35, 0.45, 2.0, 0.25, page="13.333,7.5", row=5),
    "dark": Theme("dark", "#1B1D23", "#ECECEC", "#A8ADB7", "#C8CCD4", "#5C6270", "Helvetica", 11, 9,
                  0.25, 0.35, 1.2, 0.30),
}


def _mix(colour: str, background: str, share: float) -> str:
    a = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(background[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x * share + y * (1 - share)):02X}" for x, y in zip(a, b))
