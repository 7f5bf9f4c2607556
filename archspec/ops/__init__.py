"""Every op archspec knows; importing this package registers them all."""

from . import activation, conv, linear, merge, norm, pool, rearrange, resample, tensor  # noqa: F401  (registration)
from .base import AUTO, OPS, REQUIRED, Attr, CodeArgs, Op, Reads, Shape, ShapeError

__all__ = ["AUTO", "OPS", "REQUIRED", "Attr", "CodeArgs", "Op", "Reads", "Shape", "ShapeError"]
