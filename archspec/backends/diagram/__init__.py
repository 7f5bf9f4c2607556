"""Diagrams of a network: structure at a level of detail (build), annotations from the analysis
passes (annotate), DOT text (dot) and a drawing by Graphviz (engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ...errors import Diagnostic
from ...ir.graph import Network
from ...ops import Shape
from ...ops.base import fmt_shape
from ...passes.pipeline import Analysis
from .annotate import annotate, assign_levels, label_levels
from .build import LEVELS, build_diagram
from .dot import DIRECTIONS, SHOW, Layout, to_dot, wrap_rows
from .engine import FORMATS, EngineError, layout
from .themes import THEMES

__all__ = ["DIRECTIONS", "FORMATS", "LEVELS", "SHOW", "THEMES", "EngineError", "RenderOptions", "diagram_dot",
           "render"]


@dataclass(frozen=True)
class RenderOptions:
    level: str = "stage"
    show: frozenset[str] = field(default_factory=lambda: frozenset({"shapes"}))
    theme: str = "paper"
    direction: str | None = None  # default: LR for a chain, TB for an encoder-decoder, BT for a pyramid
    input_shape: Shape | None = None


def diagram_dot(network: Network, options: RenderOptions, errors: Iterable[Diagnostic] = (),
                analysis: Analysis | None = None) -> str:
    """The diagram as DOT text. `errors` are the spec's errors when `network` came from `lower_partial`;
    the failed layers are drawn in red with their message, the other errors listed in the legend.
    `analysis`, when the caller has one at `options.input_shape`, shares its results with the diagram.
    Raises SpecError when a sound network cannot take `options.input_shape`."""
    errors = list(errors)
    diagram = build_diagram(network, options.level)
    attached = {id(error) for box in diagram.boxes for error in box.errors}
    diagram.errors = [error for error in errors if id(error) not in attached]
    annotations = annotate(analysis or Analysis(network, options.input_shape), sound=not errors)
    if not errors:
        label_levels(diagram, network, annotations.input_shape)
    pyramid = assign_levels(diagram, annotations)
    theme = THEMES[options.theme]
    direction = options.direction or _default_direction(network, pyramid)
    rows: tuple[tuple[str, ...], ...] = ()
    if not pyramid and direction == "LR" and sum(box.kind == "layer" for box in diagram.boxes) > theme.row:
        rows, direction = wrap_rows(diagram, theme.row), "TB"
    input_text = fmt_shape(annotations.input_shape).replace("x", "×")
    title = f"{network.name} · {options.level} level" + ("" if annotations.total else f" · input {input_text}")
    return to_dot(diagram, annotations, theme, options.show, Layout(direction, pyramid, rows), title)


def render(network: Network, options: RenderOptions, fmt: str, errors: Iterable[Diagnostic] = (),
           analysis: Analysis | None = None) -> tuple[bytes, list[str]]:
    """The drawing in `fmt` ("svg", "pdf", "png" or "dot") and Graphviz's warnings; raises EngineError."""
    return layout(diagram_dot(network, options, errors, analysis), fmt, THEMES[options.theme].png_dpi)


def _default_direction(network: Network, pyramid: bool) -> str:
    if not pyramid:
        return "LR"
    # A feature pyramid (outputs at several resolutions) reads bottom-up, as in Lin et al.'s figures.
    return "BT" if len(network.root.outputs) > 1 else "TB"
