"""archspec: a compiler from declarative CNN specs to analyses, diagrams and PyTorch code."""

__version__ = "0.1.0"
