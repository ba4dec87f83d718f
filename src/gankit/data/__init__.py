"""Data sources (docs/design.md, 'Data sources'): each resolves to in-memory tensors; see :func:`load_dataset`."""

from . import (  # noqa: F401, I001  (registration order = `gankit datasets` order)  # noqa: F401, I001
    cifar,
    emoji,
    folder,
    mnist,
    points,
    small,
    stacked,
    toy,  # noqa: F401  (registers gauss1d, ring8, grid25)
)
from .base import Dataset, SourceStatus, Split, cache_dir
from .registry import load_dataset, locate, register, resolve, sources
from .transforms import to_model_range, to_uint8

__all__ = [
    "Dataset",
    "Split",
    "SourceStatus",
    "cache_dir",
    "load_dataset",
    "locate",
    "register",
    "resolve",
    "sources",
    "to_model_range",
    "to_uint8",
]
