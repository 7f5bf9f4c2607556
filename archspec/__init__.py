"""archspec: a compiler from declarative CNN specs to analyses, diagrams and PyTorch code.

>>> import archspec
>>> net = archspec.load("specs/resnet/resnet50.yaml", input=(3, 224, 224), params={"num_classes": 10})
>>> net.flops().total.macs
4087156736
>>> net.receptive_fields().fields["layer4"].size
(427, 427)

Importing archspec is cheap and never imports torch: the names below are loaded when first used,
and only `Net.module()` imports torch. See docs/api.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Anchors", "Build", "Comparison", "Diagnostic", "Diagram", "Drawing", "Flops", "Net", "OptionError", "OutputError",
           "ReceptiveFields", "Resolved", "SizeCosts", "Sizes", "Sources", "SpecError", "Summary", "Validation",
           "check", "compare", "load"]

if TYPE_CHECKING:
    from .api import (Anchors, Build, Comparison, Diagram, Drawing, Flops, Net, OptionError, ReceptiveFields, Resolved,
                      SizeCosts, Sizes, Sources, Summary, Validation, check, compare, load)
    from .errors import Diagnostic, SpecError
    from .output import OutputError


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'archspec' has no attribute '{name}'")
    if name in ("Diagnostic", "SpecError"):
        from . import errors

        value = getattr(errors, name)
    elif name == "OutputError":
        from . import output

        value = output.OutputError
    else:
        from . import api

        value = getattr(api, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
