"""Light training snapshots for figures without re-training (1-D and 2-D runs).

Each snapshot is ``RUN/snapshots/step-NNNNNNNNN.safetensors`` holding, for a fixed set of inputs:
``grid`` (float32 [G, d]: where D is evaluated), ``d_grid`` (float32 [G]: D(x) in [0, 1] there), ``samples``
(float32 [S, d]: G of the fixed visualisation noise) and, when z is 1-D, ``z_line`` / ``x_line`` (float32 [L]: evenly
spaced z and their images G(z), for the z → x arrows of the paper's Figure 1). Image runs need none: their
fixed-noise grids in ``samples/`` are the snapshots.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from ..fileio import write_atomic
from ..models.base import Generator, prior_half_width
from .checkpoint import step_name, step_of

GRID_1D, GRID_2D_SIDE, Z_LINE = 400, 96, 21


def snapshot_grid(real: torch.Tensor) -> torch.Tensor:
    """float32 [G, d] covering the data with a margin: 400 points in 1-D, a 96×96 lattice in 2-D."""
    lo, hi = real.min(0).values, real.max(0).values
    pad = 0.25 * (hi - lo).clamp_min(1e-3)
    lo, hi = lo - pad, hi + pad
    if real.shape[1] == 1:
        return torch.linspace(lo[0].item(), hi[0].item(), GRID_1D).unsqueeze(1)
    xs = torch.linspace(lo[0].item(), hi[0].item(), GRID_2D_SIDE)
    ys = torch.linspace(lo[1].item(), hi[1].item(), GRID_2D_SIDE)
    return torch.cartesian_prod(xs, ys)


def z_line(G: Generator) -> torch.Tensor | None:
    """Evenly spaced 1-D noise values across the prior (:func:`~gankit.models.base.prior_half_width`), or None if
    z_dim > 1."""
    if G.z_dim != 1:
        return None
    half = prior_half_width(G.prior)
    return torch.linspace(-half, half, Z_LINE)


@torch.no_grad()
def take_snapshot(
    G: Generator, D: nn.Module, grid: torch.Tensor, fixed_z: torch.Tensor
) -> dict[str, torch.Tensor]:
    """D on ``grid`` and G on ``fixed_z`` (both in eval mode, so no random draws), as CPU tensors."""
    was = G.training, D.training
    G.eval()
    D.eval()
    try:
        device = fixed_z.device
        out = {
            "grid": grid.cpu(),
            "d_grid": torch.sigmoid(D(grid.to(device))).float().cpu(),
            "samples": G(fixed_z).float().cpu(),
        }
        line = z_line(G)
        if line is not None:
            out["z_line"] = line
            out["x_line"] = G(line.to(device).unsqueeze(1)).reshape(-1).float().cpu()
        return out
    finally:
        G.train(was[0])
        D.train(was[1])


def save_snapshot(run_dir: Path, step: int, tensors: dict[str, torch.Tensor]) -> Path:
    folder = Path(run_dir) / "snapshots"
    folder.mkdir(exist_ok=True)
    path = folder / f"{step_name(step)}.safetensors"
    write_atomic(
        path, st_save({k: v.contiguous() for k, v in tensors.items()}, metadata={"step": str(step)})
    )
    return path


def load_snapshots(run_dir: Path) -> list[tuple[int, dict[str, torch.Tensor]]]:
    """All snapshots of a run, oldest first, as (step, tensors)."""
    out = []
    for path in sorted((Path(run_dir) / "snapshots").glob("step-*.safetensors")):
        out.append((step_of(path.stem), st_load(path.read_bytes())))
    return out
