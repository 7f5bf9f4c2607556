"""YOLOv2's anchor recipe: k-means over ground-truth box sizes with the distance 1 - IoU.

Boxes are compared by size alone, as if they shared a centre, so that a large box is not favoured
over a small one the way the Euclidean distance of (w, h) would favour it. The result is ready to
paste into a yolov2 level's `anchors` (in grid cells, that is in units of the level's stride).

>>> sizes = [(10.0, 10.0), (12.0, 11.0), (100.0, 50.0), (90.0, 60.0)]
>>> result = cluster(sizes, 2)
>>> [tuple(round(v) for v in a) for a in result.anchors]
[(11, 10), (95, 55)]
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostics, Span, SpecError, display_path, remember_source

COLUMNS = (("width", "height"), ("x1", "y1", "x2", "y2"))


@dataclass(frozen=True)
class Clusters:
    anchors: list[tuple[float, float]]  # (width, height), smallest area first
    mean_iou: float  # of each box with its nearest anchor
    iterations: int


def size_iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """IoU of two boxes with one centre: only their sizes matter."""
    inter = min(a[0], b[0]) * min(a[1], b[1])
    return inter / (a[0] * a[1] + b[0] * b[1] - inter)


def cluster(sizes: list[tuple[float, float]], k: int, seed: int = 0, max_iterations: int = 300) -> Clusters:
    """k anchors for box `sizes`: k-means++ seeding, then Lloyd's iterations under 1 - IoU until no box
    changes cluster; centroids are the mean width and height of their boxes (YOLOv2's choice)."""
    rng = random.Random(seed)
    centroids = [sizes[rng.randrange(len(sizes))]]
    while len(centroids) < k:
        weights = [min(1 - size_iou(s, c) for c in centroids) for s in sizes]
        if sum(weights) == 0:  # fewer distinct sizes than k: repeat one
            centroids.append(sizes[rng.randrange(len(sizes))])
        else:
            centroids.append(rng.choices(sizes, weights=weights)[0])
    assignment: list[int] = []
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        new = [max(range(k), key=lambda j: size_iou(s, centroids[j])) for s in sizes]
        if new == assignment:
            break
        assignment = new
        for j in range(k):
            members = [s for s, a in zip(sizes, assignment) if a == j]
            if members:
                centroids[j] = (sum(w for w, _ in members) / len(members), sum(h for _, h in members) / len(members))
    mean_iou = sum(max(size_iou(s, c) for c in centroids) for s in sizes) / len(sizes)
    return Clusters(sorted(centroids, key=lambda c: c[0] * c[1]), mean_iou, iterations)


def read_box_sizes(path: str | Path) -> list[tuple[float, float]]:
    """Box sizes from a CSV with a header naming `width,height` or `x1,y1,x2,y2` (other columns are
    ignored); every malformed row is a located error."""
    path = Path(path)
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError.at(Span(display, 1, 1), f"cannot read the boxes file: {error}") from None
    remember_source(display, text)
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise SpecError.at(Span(display, 1, 1), "the boxes file is empty",
                           hint="a header 'width,height' (or 'x1,y1,x2,y2'), then one box a line")
    header = [name.strip().lower() for name in rows[0]]
    columns = next((names for names in COLUMNS if all(name in header for name in names)), None)
    if columns is None:
        raise SpecError.at(Span(display, 1, 1, len(text.splitlines()[0])), f"the header names {', '.join(header)}"
                           "; it needs the columns width,height or x1,y1,x2,y2")
    index = [header.index(name) for name in columns]
    diagnostics = Diagnostics()
    sizes = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        size = _row_size(row, index, columns, Span(display, number, 1, len(",".join(row))), diagnostics)
        if size is not None:
            sizes.append(size)
    diagnostics.check()
    if not sizes:
        raise SpecError.at(Span(display, 1, 1), "the boxes file has a header but no boxes")
    return sizes


def _row_size(row: list[str], index: list[int], columns: tuple[str, ...], span: Span,
              diagnostics: Diagnostics) -> tuple[float, float] | None:
    if len(row) <= max(index):
        diagnostics.error(span, f"the row has {len(row)} columns, the header {max(index) + 1} or more")
        return None
    try:
        values = [float(row[i]) for i in index]
    except ValueError:
        diagnostics.error(span, f"the row's {', '.join(columns)} are not all numbers: "
                          f"{', '.join(row[i].strip() for i in index)}")
        return None
    width, height = values if len(values) == 2 else (values[2] - values[0], values[3] - values[1])
    if not (width > 0 and height > 0) or width == float("inf") or height == float("inf"):
        diagnostics.error(span, f"a box needs a positive, finite width and height, got {width:g} x {height:g}")
        return None
    return (width, height)


def kmeans_report(path: str | Path, k: int, stride: float, seed: int = 0) -> dict:
    """The anchors for the boxes in a CSV (pixels) in grid cells of `stride`, and their mean IoU."""
    sizes = read_box_sizes(path)
    if k < 1 or k > len(sizes):
        raise SpecError.at(Span(display_path(Path(path)), 1, 1), f"-k is {k}, but the file has {len(sizes)} "
                           f"boxes", hint=f"choose k between 1 and {len(sizes)}")
    result = cluster(sizes, k, seed)
    anchors = [[round(w / stride, 4), round(h / stride, 4)] for w, h in result.anchors]
    return {"boxes": len(sizes), "k": k, "stride": stride, "anchors": anchors,
            "anchors_pixels": [[round(w, 2), round(h, 2)] for w, h in result.anchors],
            "mean_iou": round(result.mean_iou, 4), "iterations": result.iterations}


def kmeans_text(report: dict) -> str:
    pairs = ", ".join(f"[{w:g}, {h:g}]" for w, h in report["anchors"])
    return "\n".join([
        f"{report['k']} anchors for {report['boxes']} boxes (1 - IoU k-means, {report['iterations']} iterations); "
        f"mean IoU {report['mean_iou']:.4f}",
        f"in grid cells of stride {report['stride']:g}, for a yolov2 level:",
        f"  anchors: [{pairs}]",
    ])
