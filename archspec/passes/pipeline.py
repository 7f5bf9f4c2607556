"""The analysis pipeline: which passes run, in which order, and the results they share.

One request — a report, a diagram, a comparison — makes one `Analysis` of a
network at an input size. Each pass in `PASSES` runs at most once for it, on
demand, and reads the results of the passes before it in the tuple instead of
recomputing them: the flat view and the shapes are computed once and shared by
cost, receptive fields, diagrams and reports.

>>> from archspec.compiler import compile_spec
>>> analysis = Analysis(compile_spec("specs/resnet/resnet50.yaml"))
>>> analysis.cost.total.macs
4089184256
>>> analysis.fields.of("layer4").size
(427, 427)
"""

from __future__ import annotations

from typing import Any, Callable

from ..ir.flat import FlatGraph, flatten
from ..ir.graph import Network
from ..ops import Shape
from . import cost, receptive_field, shapes


def _flat(analysis: Analysis) -> FlatGraph:
    return flatten(analysis.network)


def _shapes(analysis: Analysis) -> shapes.ShapeResult:
    return shapes.check_input(analysis.network, analysis.input_shape)


# The passes in the order they may depend on one another: a pass reads only the results above it.
PASSES: tuple[tuple[str, Callable[[Analysis], Any]], ...] = (
    ("flat", _flat),
    ("shapes", _shapes),
    ("cost", cost.cost_pass),
    ("fields", receptive_field.fields_pass),
)
_ORDER = {name: index for index, (name, _) in enumerate(PASSES)}


class Analysis:
    """The passes' results for one network at one input (C, H, W), each computed once, when first read.

    A pass that cannot run (the network does not take the input) raises SpecError each time it is read.
    """

    def __init__(self, network: Network, input_shape: Shape | None = None):
        self.network = network
        self.input_shape: Shape = tuple(input_shape or network.input_shape)
        self._results: dict[str, Any] = {}
        self._running: list[int] = []

    def result(self, name: str) -> Any:
        if name not in self._results:
            position = _ORDER[name]
            if self._running and position >= self._running[-1]:
                raise AssertionError(f"pass '{PASSES[self._running[-1]][0]}' reads '{name}', which runs after it")
            self._running.append(position)
            try:
                self._results[name] = PASSES[position][1](self)
            finally:
                self._running.pop()
        return self._results[name]

    @property
    def flat(self) -> FlatGraph:
        return self.result("flat")

    @property
    def shapes(self) -> shapes.ShapeResult:
        return self.result("shapes")

    @property
    def cost(self) -> cost.CostReport:
        return self.result("cost")

    @property
    def fields(self) -> receptive_field.FieldReport:
        return self.result("fields")
