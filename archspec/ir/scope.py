"""What the lowering pass carries while it walks a spec: the scope that items are added to."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Span, SpecError
from ..spec.model import BlockDef, Item, Value
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
