"""The pictures' inputs and pictures: the fixed noise and labels G is shown at every picture, the grid where
figure snapshots evaluate D, and the fixed-noise picture of a step."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import TrainConfig
from ..data import to_uint8
from ..models import Generator
from ..viz.grids import grid_image, png_bytes, points_plot
from .rng import stream_seed
from .snapshots import snapshot_grid

POINTS_PLOT_N = 2000  # generated points drawn over the data in a points run's pictures


@dataclass
class FixedInputs:
    """What the pictures feed G at every step: noise ``z`` [n, z_dim] on the device, labels ``y`` int64 [n] (classes
    in turn) or None, and ``nrow``, the image grid's row length (one column per class) or None."""

    z: torch.Tensor
    y: torch.Tensor | None
    nrow: int | None


def fixed_inputs(
    G: Generator, kind: str, num_classes: int, t: TrainConfig, device: torch.device
) -> FixedInputs:
    """The pictures' inputs from the ``viz`` stream: 2,000 points for point plots, ``train.grid_size`` images (a
    multiple of the class count for conditional image grids)."""
    n, nrow, y = POINTS_PLOT_N if kind == "points" else t.grid_size, None, None
    if num_classes:
        if kind == "image":
            nrow, n = num_classes, num_classes * max(1, t.grid_size // num_classes)
        y = torch.arange(n, device=device) % num_classes
    z = G.sample_z(
        n, generator=torch.Generator().manual_seed(stream_seed(t.seed, "viz")), device="cpu"
    )
    return FixedInputs(z.to(device), y, nrow)


def snapshot_grid_of(
    t: TrainConfig, kind: str, x: torch.Tensor, num_classes: int
) -> torch.Tensor | None:
    """Where figure snapshots evaluate D: unconditional 1-D and 2-D point runs (training samples ``x``) with
    ``train.snapshot_every``; None otherwise."""
    on = t.snapshot_every > 0 and kind == "points" and x.shape[1] <= 2 and not num_classes
    return snapshot_grid(x[:POINTS_PLOT_N].cpu()) if on else None


def samples_picture(
    out: torch.Tensor, kind: str, value_range: str, nrow: int | None, x: torch.Tensor, step: int
) -> bytes:
    """The fixed-noise picture of ``step`` from G's output ``out``: an image grid, or a plot of the points over the
    training samples ``x``."""
    if kind == "image":
        return png_bytes(grid_image(to_uint8(out, value_range).cpu(), nrow=nrow))
    return points_plot(out, x[:POINTS_PLOT_N], title=f"step {step}")


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """G(z) (or G(z, y) with labels) in eval mode, restoring G's previous mode."""
    was_training = G.training
    G.eval()
    try:
        return G(z) if y is None else G(z, y)
    finally:
        G.train(was_training)
