"""Toy sources: the paper's 1-D Gaussian (Figure 1) and PacGAN's 2-D mixtures (docs/design.md, 'Metrics').

Each draws ``cfg.n_samples`` float32 points once, from its own ``torch.Generator`` seeded by ``cfg.seed``.
``ring8``: 8 Gaussians, means on the unit circle, σ = 0.01. ``grid25``: 25 Gaussians on {-4,-2,0,2,4}², σ = 0.05.
"""

from __future__ import annotations

import math

import torch

from ..config import DataConfig
from ..errors import ConfigError
from ..resources import available_memory, gib
from .base import Dataset, Split
from .registry import register

RING8_RADIUS, RING8_STD = 1.0, 0.01
GRID25_STD = 0.05


def ring8_modes() -> torch.Tensor:
    """float32 [8, 2]: the ring's means, angles 2πi/8."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    return (RING8_RADIUS * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def grid25_modes() -> torch.Tensor:
    """float32 [25, 2]: the grid's means {-4,-2,0,2,4}²."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return torch.cartesian_prod(axis, axis)


def mode_mixture(name: str) -> tuple[torch.Tensor, float] | None:
    """(modes float32 [K, 2], σ) of the named PacGAN mixture (``ring8``, ``grid25``); None for any other data."""
    if name == "ring8":
        return ring8_modes(), RING8_STD
    if name == "grid25":
        return grid25_modes(), GRID25_STD
    return None


def _mixture(modes: torch.Tensor, std: float, n: int, seed: int) -> Split:
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(modes), (n,), generator=gen)
    x = modes[labels] + std * torch.randn(n, modes.shape[1], generator=gen)
    return Split(x.float(), labels)


def _three_splits(cfg: DataConfig, dims: int, draw) -> dict[str, Split]:
    """Train, validation and test splits of ``cfg.n_samples`` points each, ``draw(offset)`` making one; a count
    whose splits (with the float64 and label temporaries of drawing them) cannot fit in memory is a ConfigError."""
    need = cfg.n_samples * (3 * (4 * dims + 8) + 12 * dims + 8)
    free = available_memory("cpu")
    if free is not None and need > free:
        raise ConfigError(
            f"data.n_samples={cfg.n_samples}: three splits of {cfg.n_samples:,} points need about "
            f"{gib(need)}, more than the {gib(free)} of memory available"
        )
    return {"train": draw(0), "validation": draw(1), "test": draw(2)}


@register("gauss1d", "1-D Gaussian N(data.mean, data.std²), the paper's Figure 1")
def load_gauss1d(cfg: DataConfig, path: str) -> Dataset:
    def draw(offset: int) -> Split:
        gen = torch.Generator().manual_seed(cfg.seed + offset)
        return Split(
            (
                cfg.mean
                + cfg.std * torch.randn(cfg.n_samples, 1, generator=gen, dtype=torch.float64)
            ).float()
        )

    return Dataset(
        "gauss1d", "points", _three_splits(cfg, 1, draw), source=f"N({cfg.mean}, {cfg.std}²)"
    )


@register("ring8", "8 Gaussians on the unit circle, σ 0.01 (PacGAN)")
def load_ring8(cfg: DataConfig, path: str) -> Dataset:
    splits = _three_splits(
        cfg, 2, lambda o: _mixture(ring8_modes(), RING8_STD, cfg.n_samples, cfg.seed + o)
    )
    return Dataset("ring8", "points", splits, source="generated", num_classes=8)


@register("grid25", "25 Gaussians on {-4,-2,0,2,4}², σ 0.05 (PacGAN)")
def load_grid25(cfg: DataConfig, path: str) -> Dataset:
    splits = _three_splits(
        cfg, 2, lambda o: _mixture(grid25_modes(), GRID25_STD, cfg.n_samples, cfg.seed + o)
    )
    return Dataset("grid25", "points", splits, source="generated", num_classes=25)
