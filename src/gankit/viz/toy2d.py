"""2-D toy pictures for Generative Adversarial Nets (Goodfellow et al., 2014): the discriminator's D(x) as a heatmap
with the real points and G's samples on top, one frame per training snapshot (the 2-D analogue of the paper's
Figure 1). Snapshots are dicts as written by ``gankit.train.snapshots``: ``grid`` float32 [G, 2], a square lattice of
side √G built with ``torch.cartesian_prod(xs, ys)`` (so ``grid[i*side + j] = (xs[i], ys[j])``), ``d_grid`` [G] with
D(x) in [0, 1], ``samples`` [S, 2]. Every function returns deterministic PNG or GIF bytes.
"""

from __future__ import annotations

import io
import math

import torch
from PIL import Image

from .grids import even_indices, figure_png, gif_bytes, new_figure

_FIGSIZE, _DPI = (5.4, 4.6), 100


def _lattice(snapshot: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(xs [side], ys [side], D as [side_y, side_x] for imshow) from the snapshot's grid and d_grid."""
    grid, d = (
        snapshot["grid"].detach().cpu().float(),
        snapshot["d_grid"].detach().cpu().float().reshape(-1),
    )
    side = math.isqrt(grid.shape[0])
    if (
        grid.dim() != 2
        or grid.shape[1] != 2
        or side * side != grid.shape[0]
        or d.numel() != grid.shape[0]
    ):
        raise ValueError(
            f"grid must be a square lattice [side², 2] with d_grid [side²], got {tuple(grid.shape)} "
            f"and {tuple(snapshot['d_grid'].shape)}"
        )
    xs, ys = grid[::side, 0], grid[:side, 1]
    return xs, ys, d.reshape(side, side).T  # d[i, j] is at (xs[i], ys[j]); imshow wants rows = y


def _extent(xs: torch.Tensor, ys: torch.Tensor) -> list[float]:
    """Pixel edges around the lattice centres."""
    dx = float(xs[1] - xs[0]) / 2 if xs.numel() > 1 else 0.5
    dy = float(ys[1] - ys[0]) / 2 if ys.numel() > 1 else 0.5
    return [float(xs[0]) - dx, float(xs[-1]) + dx, float(ys[0]) - dy, float(ys[-1]) + dy]


def _draw(
    fig, ax, cax, snapshot: dict[str, torch.Tensor], real: torch.Tensor, title: str, extent=None
) -> None:
    xs, ys, d = _lattice(snapshot)
    extent = extent or _extent(xs, ys)
    image = ax.imshow(
        d.numpy(),
        origin="lower",
        extent=extent,
        cmap="RdBu_r",
        vmin=0.0,
        vmax=1.0,
        interpolation="nearest",
        aspect="equal",
    )
    fig.colorbar(image, cax=cax, label="D(x)")
    r = real.detach().cpu().float().numpy()
    s = snapshot["samples"].detach().cpu().float().numpy()
    ax.scatter(r[:, 0], r[:, 1], s=3, c="0.35", linewidths=0, label="data")
    ax.scatter(s[:, 0], s[:, 1], s=3, c="#00b000", linewidths=0, label="G(z)")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7, markerscale=3, framealpha=0.8)


def _canvas():
    from mpl_toolkits.axes_grid1 import make_axes_locatable  # ships with matplotlib

    fig, ax = new_figure(figsize=_FIGSIZE, dpi=_DPI)
    fig.subplots_adjust(left=0.1, right=0.88, top=0.92, bottom=0.07)
    # as tall as the equal-aspect plot
    cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.1)
    return fig, ax, cax


def toy2d_frame(snapshot: dict[str, torch.Tensor], real: torch.Tensor, title: str) -> bytes:
    """PNG: D(x) over the snapshot's lattice as a heatmap (0 blue … 1 red, with colourbar), the ``real`` points
    (float [N, 2], small grey) and G's ``samples`` (small green) on top, equal aspect, titled ``title``."""
    fig, ax, cax = _canvas()
    _draw(fig, ax, cax, snapshot, real, title)
    return figure_png(fig)


def toy2d_gif(
    snapshots: list[dict[str, torch.Tensor]],
    real: torch.Tensor,
    titles: list[str],
    *,
    max_frames: int = 60,
) -> bytes:
    """Animated GIF (loop forever, 200 ms a frame) of ``toy2d_frame`` pictures over training, evenly subsampled to at
    most ``max_frames`` (first and last kept). ``snapshots`` are snapshot dicts (or (step, dict) pairs) and
    ``titles`` holds one title per snapshot. Axes are fixed to the first picked snapshot's lattice."""
    if not snapshots:
        raise ValueError("toy2d_gif needs at least one snapshot")
    if len(titles) != len(snapshots):
        raise ValueError(f"titles has {len(titles)} entries for {len(snapshots)} snapshots")
    picked = [(snapshots[i], titles[i]) for i in even_indices(len(snapshots), max_frames)]
    picked = [(s[1] if isinstance(s, tuple) else s, t) for s, t in picked]
    extent = _extent(*_lattice(picked[0][0])[:2])
    fig, ax, cax = _canvas()
    frames = []
    for snap, title in picked:
        ax.clear()
        cax.clear()
        _draw(fig, ax, cax, snap, real, title, extent)
        frames.append(Image.open(io.BytesIO(figure_png(fig))).convert("RGB"))
    return gif_bytes(frames, 200)
