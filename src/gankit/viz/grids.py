"""Sample pictures: image grids as PNG (Pillow) and, for toy points, a histogram or scatter plot (matplotlib)."""

from __future__ import annotations

import io
import math
from typing import Any

import torch
from PIL import Image


def grid_image(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
    """uint8 [N, C, H, W] (C = 1 or 3) → one PIL image, ``nrow`` per row (default ⌈√N⌉), ``pad`` px white gaps."""
    assert images.dtype == torch.uint8 and images.dim() == 4 and images.shape[1] in (1, 3), (
        images.shape
    )
    n, c, h, w = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    canvas = torch.full((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), 255, dtype=torch.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y, x = pad + r * (h + pad), pad + col * (w + pad)
        canvas[:, y : y + h, x : x + w] = images[i]
    array = canvas.permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(array[:, :, 0] if c == 1 else array, mode="L" if c == 1 else "RGB")


def png_bytes(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or metadata)."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def points_plot(samples: torch.Tensor, real: torch.Tensor | None = None, title: str = "") -> bytes:
    """PNG of float32 [N, 1] (histograms) or [N, 2] (scatter) samples, with real data behind in grey."""
    fig, ax = new_figure(figsize=(5, 4), dpi=80)
    s = samples.detach().cpu().float().numpy()
    r = None if real is None else real.detach().cpu().float().numpy()
    if s.shape[1] == 1:
        lo = min(s.min(), r.min()) if r is not None else s.min()
        hi = max(s.max(), r.max()) if r is not None else s.max()
        bins = torch.linspace(float(lo), float(hi), 61).numpy()
        if r is not None:
            ax.hist(r[:, 0], bins=bins, density=True, color="0.6", alpha=0.6, label="data")
        ax.hist(s[:, 0], bins=bins, density=True, histtype="step", color="green", label="G(z)")
        ax.legend()
    else:
        if r is not None:
            ax.scatter(r[:, 0], r[:, 1], s=2, c="0.6", label="data")
        ax.scatter(s[:, 0], s[:, 1], s=2, c="green", label="G(z)")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(loc="upper right")
    ax.set_title(title)
    return figure_png(fig)


def new_figure(
    *, figsize: tuple[float, float], dpi: int, nrows: int = 1, ncols: int = 1, **subplots: Any
):
    """(a matplotlib Figure, its axes as Figure.subplots gives them), made without pyplot: no backend is switched
    and no global list of figures holds it, so it is freed like any object."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    return fig, fig.subplots(nrows, ncols, **subplots)


def figure_png(fig) -> bytes:
    """A matplotlib figure as deterministic PNG bytes (no software/date metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def even_indices(n: int, k: int) -> list[int]:
    """At most ``k`` (≥ 1) indices of range(n), evenly spread; with k ≥ 2 both 0 and n − 1 are kept."""
    if k < 1:
        raise ValueError(f"max_frames must be ≥ 1, got {k}")
    k = min(n, k)
    return [n - 1] if k == 1 else [i * (n - 1) // (k - 1) for i in range(k)]


def gif_bytes(frames: list[Image.Image], duration_ms: int) -> bytes:
    """Animated GIF (loops forever) of equally sized frames, deterministic bytes."""
    buf = io.BytesIO()
    frames[0].save(
        buf,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=duration_ms,
        loop=0,
        optimize=False,
    )
    return buf.getvalue()
