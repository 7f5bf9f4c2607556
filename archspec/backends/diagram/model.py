"""What a diagram shows, before any styling: boxes, the edges between them, and clusters.

A box stands for one layer, a run of layers, a block or a whole stage, depending
on the level of detail; `leaves` lists the flat paths of the layers it covers,
so the analysis passes can annotate it, and `output` the value it produces.
Ids are value paths (`layer1.0.conv1`), which are unique; the network's input,
outputs and the merge points of folded residual blocks get ids with a colon,
which no spec name can contain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

INPUT_ID = ":input"


@dataclass
class Box:
    id: str
    title: str  # the spec's name for it ("layer1", "conv1"); empty for an unnamed layer
    lines: list[str]  # what it is: "Bottleneck ×3", "conv 3×3, 64 · relu"
    category: str  # the op's category (Op.category), which picks the colour; "block" for blocks and stages
    cluster: str | None = None  # id of the cluster that holds it
    kind: str = "layer"  # "layer" | "merge" (the + of a folded residual block) | "input" | "output"
    leaves: list[str] = field(default_factory=list)  # flat paths of the layers it covers
    output: str | None = None  # flat path of the value it produces
    shared: int = 1  # applications of one set of weights drawn as this box
    errors: list[Any] = field(default_factory=list)  # Diagnostics of the layers in it that failed
    level: int | None = None  # resolution level (log2 of the stride), for encoder-decoder layouts

    def assigned_level(self) -> int:
        """The level, once `assign_levels` has given every box one (the layout reads it after that)."""
        if self.level is None:
            raise ValueError(f"box '{self.id}' has no resolution level yet: assign_levels sets them")
        return self.level


@dataclass
class Edge:
    source: str
    target: str
    value: str  # flat path of the value carried, for its shape
    kind: str = "main"  # "main" (the target's first input) | "skip" (any other input)
    note: str = ""  # what happens on the way: the projection of a residual shortcut


@dataclass
class Cluster:
    id: str
    title: str
    parent: str | None = None


@dataclass
class Diagram:
    name: str
    level: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)  # Diagnostics that belong to no box

    def box(self, box_id: str) -> Box:
        index = self.__dict__.get("_index")
        if index is None or len(index) != len(self.boxes):  # boxes are only ever appended
            index = self.__dict__["_index"] = {box.id: box for box in self.boxes}
        return index[box_id]
