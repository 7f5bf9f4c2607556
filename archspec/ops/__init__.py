"""Every op archspec knows; importing this package registers them all."""

from . import (activation, conv, l2norm, linear, merge, norm, pool, resample, roi_align,  # noqa: F401  (registration)
               space_to_depth, tensor)
from .base import AUTO, OPS, REQUIRED, Attr, CodeArgs, Op, Reads, Shape, ShapeError

__all__ = ["AUTO", "OPS", "REQUIRED", "Attr", "CodeArgs", "Op", "Reads", "Shape", "ShapeError"]
