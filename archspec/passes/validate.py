"""The validation pass: everything `build` checks, in order, without writing anything.

Lowering has already checked the spec, linted the IR and inferred every shape
at the spec's input. What remains: whether the network can be written as the
classes of one PyTorch file (`emittable.py`, a pass over the IR: nothing is
emitted), and the shapes at another input (with the nearest sizes that work as
the hint).
"""

from __future__ import annotations

from typing import Callable

from ..errors import SpecError
from ..ir.graph import Network
from ..ops import Shape
from .emittable import check_emittable
from .shapes import check_input, nearest_accepted


def check_shapes_at_input(network: Network, input_shape: Shape) -> None:
    if tuple(input_shape) == tuple(network.input_shape):
        return  # lowering inferred every shape at the spec's own input
    try:
        check_input(network, input_shape)
        if network.detection is not None:
            from ..detection.spec import check_detection_once

            check_detection_once(network, input_shape)
    except SpecError as error:
        error.diagnostics[0].hint = _nearest_hint(network, input_shape) or error.diagnostics[0].hint
        raise


# In the order `validate` runs them; each raises SpecError.
VALIDATION: tuple[Callable[[Network, Shape], None], ...] = (check_emittable, check_shapes_at_input)


def validate(network: Network, input_shape: Shape | None = None) -> None:
    """Run every check of `VALIDATION` on the network at `input_shape` (default: the spec's input)."""
    for check in VALIDATION:
        check(network, tuple(input_shape or network.input_shape))


def _nearest_hint(network: Network, input_shape: Shape) -> str | None:
    if len(input_shape) != 3:
        return None
    below, above = nearest_accepted(network, input_shape)
    found = ["x".join(map(str, s)) for s in (below, above) if s is not None]
    return f"the nearest inputs it takes are {' and '.join(found)}" if found else None
