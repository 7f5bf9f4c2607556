"""Every op archspec knows; importing this package registers them all."""

from . import (activation, conv, linear, merge, norm, pool, rearrange, resample, roi_align,  # noqa: F401  (registration)
               tensor)
from .base import AUTO, OPS, REQUIRED, Attr, CodeArgs, Op, Reads, Shape, ShapeError

__all__ = ["AUTO", "OPS", "REQUIRED", "Attr", "CodeArgs", "Op", "Reads", "Shape", "ShapeError"]
