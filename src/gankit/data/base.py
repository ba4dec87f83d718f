"""The data contract (docs/design.md, 'Data sources'): every source resolves to in-memory tensors.

Images are ``uint8 [N, C, H, W]`` (values 0..255) with optional ``int64 [N]`` labels; toy data is
``float32 [N, d]``. Sources never convert to a model's range: that happens once, in
:mod:`gankit.data.transforms`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import torch

from ..errors import DatasetError
from ..fileio import cache_dir

Kind = Literal["image", "points"]


@dataclass(frozen=True)
class Split:
    """One split: ``x`` uint8 [N, C, H, W] (images) or float32 [N, d] (points); ``y`` int64 [N] or None."""

    x: torch.Tensor
    y: torch.Tensor | None = None

    def __post_init__(self) -> None:
        assert self.x.dtype in (torch.uint8, torch.float32), self.x.dtype
        assert self.y is None or (self.y.dtype == torch.int64 and len(self.y) == len(self.x))

    def __len__(self) -> int:
        return len(self.x)


@dataclass(frozen=True)
class Dataset:
    """A resolved source: ``kind``, named splits (``train`` always; ``validation``/``test`` where they exist)."""

    name: str
    kind: Kind
    splits: Mapping[str, Split]
    source: str = ""  # where the data came from, for messages and `gankit datasets`
    num_classes: int | None = None
    # files the source could not read and left out (folder:PATH without data.strict)
    skipped: int = 0

    def __post_init__(self) -> None:
        assert "train" in self.splits, f"{self.name}: a dataset needs a train split"

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DatasetError(
                f"dataset {self.name!r} has no split {name!r}; it has: {', '.join(self.splits)}"
            )
        return self.splits[name]

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample: (C, H, W) for images, (d,) for points."""
        return tuple(self.train.x.shape[1:])

    def summary(self, split: str = "train") -> str:
        """One line: ``folder (/pics): 3,926 images 3×64×64, 2 unreadable skipped, 4 classes``."""
        what = "images" if self.kind == "image" else "points"
        shape = "×".join(map(str, self.sample_shape))
        text = f"{self.name} ({self.source}): {len(self.split(split)):,} {what} {shape}"
        if self.skipped:
            text += f", {self.skipped:,} unreadable skipped"
        return text + (f", {self.num_classes} classes" if self.num_classes else "")


@dataclass(frozen=True)
class SourceStatus:
    """What `gankit datasets` prints for one source."""

    present: bool
    where: str  # a path, "built in", or the places looked in
    size: str = ""  # e.g. "60,000 + 10,000 images 1×28×28"


def search_roots(data_dir: str | None, extra: tuple[str, ...] = ()) -> list[Path]:
    """Folders to look in, in order: ``data_dir``, ``$GANKIT_DATA``, the user cache, then ``extra``."""
    roots = []
    if data_dir:
        roots.append(Path(data_dir).expanduser())
    if os.environ.get("GANKIT_DATA"):
        roots.append(Path(os.environ["GANKIT_DATA"]).expanduser())
    roots.append(cache_dir())
    roots.extend(Path(p) for p in extra)
    return roots
