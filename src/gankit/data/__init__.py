"""Data sources (docs/design.md, 'Data sources'): each resolves to in-memory tensors; see :func:`load_dataset`."""

from . import toy  # noqa: F401  (registers gauss1d, ring8, grid25)
from . import mnist, small, cifar  # noqa: F401, I001  (registration order = `gankit datasets` order)
from . import points, folder, emoji, stacked  # noqa: F401, I001
from .base import Dataset, SourceStatus, Split, cache_dir
from .registry import load_dataset, locate, register, resolve, sources
from .transforms import to_model_range, to_uint8

__all__ = ["Dataset", "Split", "SourceStatus", "cache_dir", "load_dataset", "locate", "register", "resolve",
           "sources", "to_model_range", "to_uint8"]
