"""The training split as a run holds it: which split and how many classes (labels checked), where its samples live
(:func:`on_device`), how a batch is taken from it (:class:`TrainingData`), and its per-pixel mean."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..config import Config
from ..data import Dataset, Split, load_dataset, to_model_range
from ..errors import ConfigError
from ..resources import available_memory

MEAN_BLOCK_BYTES = 1 << 24  # the float64 block image_mean sums at a time (16 MiB)


def training_split(cfg: Config, dataset: Dataset | None) -> tuple[Dataset, Split, int]:
    """(the dataset — ``dataset``, or the source ``data.name`` names —, the split to train on, its class count: 0
    unless ``model.conditional``, whose labels are checked)."""
    dataset = dataset if dataset is not None else load_dataset(cfg.data)
    split = dataset.split(cfg.data.split)
    return (
        dataset,
        split,
        (_class_count(cfg, dataset, split) if cfg.model.conditional != "none" else 0),
    )


def _class_count(cfg: Config, dataset: Dataset, split: Split) -> int:
    """Class count of a labelled training split, or a ConfigError naming what is missing."""
    if split.y is None or len(split.y) == 0:
        raise ConfigError(
            f"model.conditional={cfg.model.conditional} needs class labels, and dataset "
            f"{dataset.name} ({cfg.data.split} split) has none"
        )
    num_classes = dataset.num_classes or int(split.y.max()) + 1
    if split.y.dtype != torch.int64 or int(split.y.min()) < 0 or int(split.y.max()) >= num_classes:
        raise ConfigError(f"dataset {dataset.name}: labels must be int64 in [0, {num_classes})")
    return num_classes


def image_mean(x: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean in [0, 1] of uint8 images x [N, ...] → float32 [...]. Summed in float64 over blocks of rows whose
    float64 copy is at most MEAN_BLOCK_BYTES, so a memory-mapped set is read, never copied whole."""
    rows = max(1, MEAN_BLOCK_BYTES // (8 * math.prod(x.shape[1:])))
    total = torch.zeros(x.shape[1:], dtype=torch.float64, device=x.device)
    for start in range(0, len(x), rows):
        total += x[start : start + rows].to(torch.float64).sum(0)
    return (total / (255.0 * len(x))).float()


@dataclass
class TrainingData:
    """The training split as training reads it: ``x`` [N, ...] (images uint8 0..255, points float32), ``y`` int64
    [N] and the class frequencies ``class_freq`` float32 [C] of a conditional run (else None). Batches go to
    ``device``; images are converted to G's ``value_range`` a batch at a time (:meth:`take`), so the set is held
    once, as uint8."""

    x: torch.Tensor
    y: torch.Tensor | None
    class_freq: torch.Tensor | None
    value_range: str
    device: torch.device

    def take(self, idx: torch.Tensor) -> torch.Tensor:
        """Rows ``idx`` (int64 [m], on ``device``) → float32 [m, ...] in G's value range, on ``device``."""
        rows = self.x[idx if idx.device == self.x.device else idx.to(self.x.device)]
        return to_model_range(rows, self.value_range).to(self.device, non_blocking=True)

    def labels(self, idx: torch.Tensor) -> torch.Tensor | None:
        return self.y[idx] if self.y is not None else None


def on_device(
    split: Split, value_range: str, num_classes: int, device: torch.device
) -> TrainingData:
    """The split for training. Images stay uint8 where they are on a CPU (a folder's memory-mapped pixels are not
    copied) and move to a GPU when they take at most a quarter of its free memory (else batches are copied from the
    host); points move to ``device`` as float32. Labels only when conditional."""
    x = split.x
    if x.dtype != torch.uint8:
        x = to_model_range(x, value_range).to(device)
    elif device.type != "cpu" and x.numel() <= (available_memory(device) or 0) // 4:
        x = x.to(device)
    if not num_classes:
        return TrainingData(x, None, None, value_range, device)
    y = split.y.to(device)
    return TrainingData(x, y, torch.bincount(y, minlength=num_classes).float(), value_range, device)
