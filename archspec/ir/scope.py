"""What the lowering pass carries while it walks a spec: the scope that items are added to."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostics, Span, SpecError
from ..ops import Shape
from ..spec.model import BlockDef, Item, ResolvedSpec, Value
from .graph import Module

PREVIOUS = "_"  # in `from`: the previous layer's output


@dataclass
class Scope:
    """Where items are being added: a module, its defaults, and the value the next item reads."""

    module: Module
    defaults: dict[str, dict[str, Value]]
    in_sequence: bool  # in a sequence (a `seq` or a repeat): each layer reads the one before
    block: BlockDef | None = None
    current: str | None = None
    spans: dict[str, Span] = field(default_factory=dict)  # name -> where it was defined
    counters: dict[str, int] = field(default_factory=dict)  # next index to try for auto names
    naming: tuple[Item, str] | None = None  # the item being lowered and its name, for a stand-in if it fails


class TooLarge(Exception):
    """The network passed a size limit: lowering stops at once instead of collecting one error per layer."""

    def __init__(self, error: SpecError):
        super().__init__(str(error))
        self.error = error


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class LoweringParts(ABC):
    """What the parts of the lowering pass (references, op nodes, containers) read of one another: the
    state that `lower._Lowering` sets up, and the steps of its walk that each part calls."""

    spec: ResolvedSpec
    diagnostics: Diagnostics
    group_classes: dict[str, str]  # class name -> what it is the class of
    repeats: list[Item]  # the repeats whose copies are being lowered, innermost last
    input_shape: Shape  # the network's, once read
    block_stack: list[str]  # the blocks being lowered, outermost first

    @abstractmethod
    def body(self, items: list[Item], scope: Scope, env: dict[str, Any]) -> None:
        """Lower `items` into `scope`."""

    @abstractmethod
    def enabled(self, item: Item, scope: Scope, env: dict[str, Any]) -> bool:
        """Whether an item with `if` is kept (a disabled one passes its input on)."""

    @abstractmethod
    def count_steps(self, item: Item, steps: int) -> None:
        """Count the passes of a repeat's body, refusing a network past the size limits."""

    @abstractmethod
    def set_outputs(self, module: Module, scope: Scope, raw: Any, span: Span) -> None:
        """Set what a network, block or group returns."""

    @abstractmethod
    def inputs(self, item: Item, scope: Scope, env: dict[str, Any]) -> list[str]:
        """The values a layer reads."""

    @abstractmethod
    def item_name(self, item: Item, scope: Scope, env: dict[str, Any]) -> str:
        """The name of the node an item becomes."""
