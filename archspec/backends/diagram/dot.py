"""A diagram as Graphviz DOT text: boxes with HTML-like labels, clusters, ranks and a legend.

The text is a function of the diagram, the annotations and the options only,
written in the diagram's order, so the same spec gives the same bytes.
Layout is Graphviz's; the choices here are the constraints it works with:
a chain flows along `rankdir` and its skips do not pull on the ranks; an
encoder-decoder puts each resolution level on one rank, so that its skips
and laterals are flat.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from functools import cached_property

from ...ops.base import fmt_shape
from .annotate import Annotations
from .model import Box, Diagram, Edge
from .themes import ERROR_COLOUR, CATEGORIES, Theme

SHOW = ("shapes", "params", "macs", "rf")
DIRECTIONS = ("LR", "TB", "RL", "BT")


@dataclass(frozen=True)
class Layout:
    direction: str  # Graphviz rankdir
    pyramid: bool = False  # one rank per resolution level
    rows: tuple[tuple[str, ...], ...] = ()  # a long chain wrapped into rows of box ids, top to bottom

    @cached_property
    def row_index(self) -> dict[str, int]:
        return {box_id: index for index, row in enumerate(self.rows) for box_id in row}

    @property
    def flat(self) -> bool:
        """Whether edges run within ranks, where Graphviz has no room for their labels."""
        return self.pyramid or bool(self.rows)


def wrap_rows(diagram: Diagram, width: int) -> tuple[tuple[str, ...], ...]:
    """A chain cut into rows: a new row at each top-level cluster (a stage) and after `width` boxes,
    rows of one stage balanced. The input and outputs stay out of the rows: Graphviz puts them above
    the first row and below the last."""
    stages: list[tuple[str | None, list[Box]]] = []
    parents = {cluster.id: cluster.parent for cluster in diagram.clusters}
    for box in diagram.boxes:
        if box.kind in ("input", "output"):
            continue
        stage = box.cluster
        while stage is not None and parents.get(stage) is not None:
            stage = parents[stage]
        if stages and stages[-1][0] == stage:
            stages[-1][1].append(box)
        else:
            stages.append((stage, [box]))
    rows = []
    for _, boxes in stages:
        count = sum(1 for box in boxes if box.kind == "layer")
        pieces = max(1, -(-count // width))
        size = -(-count // pieces)
        row: list[str] = []
        layers = 0
        for box in boxes:
            if box.kind == "layer" and layers == size:
                rows.append(tuple(row))
                row, layers = [], 0
            row.append(box.id)
            layers += box.kind == "layer"
        rows.append(tuple(row))
    return tuple(rows)


def to_dot(diagram: Diagram, annotations: Annotations, theme: Theme, show: frozenset[str], layout: Layout,
           title: str) -> str:
    lines = [f"digraph {_quote(diagram.name)} {{"]
    lines += [f"  {line}" for line in _graph_attributes(theme, layout)]
    lines.append(f"  label={_legend(diagram, annotations, theme, title)}")
    children: dict[str | None, list] = {}
    for cluster in diagram.clusters:
        children.setdefault(cluster.parent, []).append(cluster)
    for box in diagram.boxes:
        children.setdefault(box.cluster, []).append(box)
    lines += _members(children, None, annotations, theme, show, layout, depth=1)
    for edge in diagram.edges:
        lines.append("  " + _edge(edge, diagram, annotations, show, layout))
    if layout.pyramid:
        lines += _ranks(diagram)
    for row in layout.rows:
        lines.append("  {rank=same; " + " ".join(_quote(box_id) + ";" for box_id in row) + "}")
    for above, below in zip(layout.rows, layout.rows[1:]):
        # Rows start under one another: a heavy invisible edge between their first boxes.
        lines.append(f"  {_quote(above[0])} -> {_quote(below[0])} [style=invis, weight=100]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _graph_attributes(theme: Theme, layout: Layout) -> list[str]:
    attributes = [
        f"graph [rankdir={layout.direction}, newrank=true, bgcolor={_quote(theme.background)}, "
        f"fontname={_quote(theme.font)}, fontsize={theme.size:g}, fontcolor={_quote(theme.text)}, "
        f"nodesep={theme.nodesep:g}, ranksep={theme.ranksep:g}, pad=0.2, labelloc=b"
        + (f", size={_quote(theme.page)}" if theme.page else "") + "]",
        f"node [shape=box, style=\"rounded,filled\", fontname={_quote(theme.font)}, fontsize={theme.size:g}, "
        f"fontcolor={_quote(theme.text)}, penwidth={theme.pen:g}, margin=\"0.12,0.06\"]",
        f"edge [color={_quote(theme.edge)}, fontname={_quote(theme.font)}, fontsize={theme.small:g}, "
        f"fontcolor={_quote(theme.muted)}, penwidth={theme.pen:g}, arrowsize=0.7]",
    ]
    return attributes


def _members(children: dict, parent: str | None, annotations: Annotations, theme: Theme, show: frozenset[str],
             layout: Layout, depth: int) -> list[str]:
    indent = "  " * depth
    lines = []
    for member in children.get(parent, []):
        if isinstance(member, Box):
            lines.append(indent + _node(member, annotations, theme, show, layout))
            continue
        lines.append(f"{indent}subgraph {_quote(member.id)} {{")
        lines.append(f"{indent}  graph [label=<{_escape(member.title)}>, style=\"rounded,dashed\", "
                     f"color={_quote(theme.cluster)}, fontcolor={_quote(theme.muted)}, fontsize={theme.small:g}, "
                     f"labeljust=l, labelloc=t]")
        lines += _members(children, member.id, annotations, theme, show, layout, depth + 1)
        lines.append(f"{indent}}}")
    return lines


def _node(box: Box, annotations: Annotations, theme: Theme, show: frozenset[str], layout: Layout) -> str:
    if box.kind in ("input", "output"):
        shape = annotations.shapes.get(box.output or "")
        rows = [f"<B>{_escape(box.title)}</B>"]
        if shape is not None:
            rows.append(_small(fmt_shape(shape).replace("x", "×"), theme))
        return f"{_quote(box.id)} [shape=plaintext, style=\"\", label=<{'<BR/>'.join(rows)}>]"
    colour = ERROR_COLOUR if box.errors else CATEGORIES.get(box.category, CATEGORIES["other"])[0]
    if box.kind == "merge":
        return (f"{_quote(box.id)} [shape=circle, margin=0.02, fillcolor={_quote(theme.fill(colour))}, "
                f"color={_quote(colour)}, label=<{_escape(box.lines[0])}>]")
    rows = [f"<B>{_escape(box.title)}</B>"] if box.title else []
    rows += [_escape(line) for line in box.lines]
    if box.shared > 1:
        rows.append(f"<I>shared, applied {box.shared} times</I>")
    notes = _notes(box, annotations, show, layout)
    if notes:
        rows.append(_small(" · ".join(notes), theme))
    pen = theme.pen
    if box.errors:
        pen = theme.pen * 3
        rows += [f'<FONT COLOR="{ERROR_COLOUR}">{_escape(text)}</FONT>' for text in _error_text(box)]
    return (f"{_quote(box.id)} [fillcolor={_quote(theme.fill(colour))}, color={_quote(colour)}, "
            f"penwidth={pen:g}, label=<{'<BR/>'.join(rows)}>]")


def _notes(box: Box, annotations: Annotations, show: frozenset[str], layout: Layout) -> list[str]:
    notes = []
    shape = annotations.shapes.get(box.output or "")
    if "shapes" in show and layout.flat and shape is not None:
        # Edges within a rank have no room for a label: the box shows the shape it produces.
        notes.append(fmt_shape(shape).replace("x", "×"))
    cost = annotations.cost_of(box)
    if cost is not None and "params" in show:
        notes.append(f"{_human(cost.params)} params")
    if cost is not None and "macs" in show:
        notes.append(f"{_human(cost.macs)} MACs")
    field = annotations.fields.get(box.output or "")
    if field is not None and "rf" in show and shape is not None and len(shape) == 3:  # not for vectors
        size = "×".join(str(s) for s in field.size)
        strides = {str(s) for s in field.stride}
        notes.append(f"RF {size}, stride {'×'.join(str(s) for s in field.stride) if len(strides) > 1 else strides.pop()}")
    return notes


def _error_text(box: Box) -> list[str]:
    first = box.errors[0]
    text = f"error (line {first.span.line}): {first.message}"
    lines = textwrap.wrap(text, 48)
    if len(box.errors) > 1:
        lines.append(f"and {len(box.errors) - 1} more")
    return lines


def _edge(edge: Edge, diagram: Diagram, annotations: Annotations, show: frozenset[str], layout: Layout) -> str:
    attributes = []
    label = []
    shape = annotations.shapes.get(edge.value)
    if "shapes" in show and shape is not None and not layout.flat:
        label.append(fmt_shape(shape).replace("x", "×"))
    if edge.note:
        label.append(edge.note)
    if label:
        # Graphviz places the label of an edge within one rank outside the ranking (an ordinary label
        # on such an edge can trip an assertion in its crossing minimisation when clusters are involved).
        key = "xlabel" if layout.flat else "label"
        attributes.append(f"{key}=<{'<BR/>'.join(_escape(text) for text in label)}>")
    if edge.kind == "skip" and not layout.flat:
        attributes.append("constraint=false")  # the main path alone sets the ranks; skips arc beside it
    elif layout.pyramid and diagram.box(edge.source).level > diagram.box(edge.target).level:
        attributes.append("constraint=false")  # the way back up: ranks come from the levels
    elif layout.rows and -1 != _row_of(layout, edge.source) != _row_of(layout, edge.target) != -1:
        attributes.append("constraint=false")  # from the end of a row to the start of the next
    suffix = f" [{', '.join(attributes)}]" if attributes else ""
    return f"{_quote(edge.source)} -> {_quote(edge.target)}{suffix}"


def _row_of(layout: Layout, box_id: str) -> int:
    return layout.row_index.get(box_id, -1)


def _ranks(diagram: Diagram) -> list[str]:
    levels: dict[int, list[str]] = {}
    for box in diagram.boxes:
        levels.setdefault(box.level, []).append(box.id)
    return ["  {rank=same; " + " ".join(_quote(box_id) + ";" for box_id in ids) + "}"
            for _, ids in sorted(levels.items())]


def _legend(diagram: Diagram, annotations: Annotations, theme: Theme, title: str) -> str:
    """Under the drawing: the title, the exact totals, a swatch per op kind present, the errors."""
    cells = [f"<TD BGCOLOR=\"{theme.fill(CATEGORIES[g][0])}\" COLOR=\"{CATEGORIES[g][0]}\" BORDER=\"1\">"
             f"{_small(CATEGORIES[g][1], theme)}</TD>" for g in _categories_present(diagram)]
    count = sum(len(box.errors) for box in diagram.boxes) + len(diagram.errors)
    if count:
        text = f"{count} error{'s' if count != 1 else ''}"
        cells.append(f"<TD COLOR=\"{ERROR_COLOUR}\" BORDER=\"3\">{_small(text, theme)}</TD>")
    span = max(len(cells), 1)
    lines = [f"<B>{_escape(title)}</B>"]
    total = annotations.total
    if total is not None:
        lines.append(_escape(f"{total.params:,} params · {total.macs:,} MACs ({_human(total.flops)} FLOPs) · "
                             f"input {fmt_shape(annotations.input_shape).replace('x', '×')}"))
    for error in diagram.errors:
        lines += [f"<FONT COLOR=\"{ERROR_COLOUR}\">{_escape(text)}</FONT>"
                  for text in textwrap.wrap(f"error (line {error.span.line}): {error.message}", 80)]
    rows = [f"<TR><TD ALIGN=\"LEFT\" COLSPAN=\"{span}\">{line}</TD></TR>" for line in lines]
    if cells:
        rows.insert(2 if total is not None else 1, "<TR>" + "".join(cells) + "</TR>")
    return f"<<TABLE BORDER=\"0\" CELLSPACING=\"4\" CELLPADDING=\"3\">{''.join(rows)}</TABLE>>"


def _categories_present(diagram: Diagram) -> list[str]:
    """The op kinds drawn, in order of first appearance, one per legend name."""
    present: list[str] = []
    for box in diagram.boxes:
        if box.category in CATEGORIES and CATEGORIES[box.category][1] not in [CATEGORIES[c][1] for c in present]:
            present.append(box.category)
    return present


def _small(text: str, theme: Theme) -> str:
    return f"<FONT POINT-SIZE=\"{theme.small:g}\" COLOR=\"{theme.muted}\">{_escape(text)}</FONT>"


def _human(count: int) -> str:
    """3 significant figures and a unit: 25.6 M, 4.09 G, 960."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if count >= size:
            value = count / size
            return f"{value:.3g} {unit}" if value < 1000 else f"{value:,.0f} {unit}"
    return str(count)


def _escape(text: str) -> str:
    """Text for an HTML-like label: markup characters as entities, control characters spelled out."""
    text = _printable(text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _quote(text: str) -> str:
    return '"' + _printable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _printable(text: str) -> str:
    """A NUL or another control character (a string argument can hold one) stops Graphviz's parser."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
