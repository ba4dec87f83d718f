"""A looping walk through a run's noise space as an animated GIF (``gankit sample RUN --walk N``)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from .data import to_uint8
from .errors import GankitError, RunDirError
from .fileio import write_atomic
from .models.latent import loop_through, truncate
from .train.restore import load_generator
from .viz.grids import gif_bytes, grid_image

FRAME_MS = 80
MIN_SIDE = 256  # small pictures are enlarged (nearest) to at least this many pixels a side


def walk_frames(
    G, points: int, frames: int, seed: int, *, label: int | None = None, truncation: float = 1.0
) -> torch.Tensor:
    """uint8 [points·frames, C, H, W]: G along a closed walk through ``points`` draws of its prior (noise seed
    ``seed``), spherical for a normal prior and straight for a uniform one; one class for a conditional G."""
    z = G.sample_z(points, generator=torch.Generator().manual_seed(seed), device="cpu")
    path = truncate(loop_through(z, frames, spherical=G.prior == "normal"), truncation)
    args = [path]
    if G.num_classes:
        args.append(torch.full((len(path),), 0 if label is None else label, dtype=torch.int64))
    with torch.no_grad():
        x = torch.cat([G(*[a[i : i + 500] for a in args]) for i in range(0, len(path), 500)])
    return to_uint8(x, G.value_range)


def save_walk(
    run_dir: Path,
    out: Path,
    points: int,
    frames: int,
    seed: int,
    *,
    which: str | int = "latest",
    label: int | None = None,
    truncation: float = 1.0,
) -> str:
    """Write the walk of :func:`walk_frames` to ``out`` (.gif, looping, 80 ms a frame); returns it in words."""
    if Path(out).suffix.lower() != ".gif":
        raise GankitError(
            f"--out {out}: a walk is written as an animated .gif (no video encoder here)"
        )
    G, kind, _ = load_generator(Path(run_dir), which)
    if kind != "image":
        raise RunDirError(f"{run_dir} is a points run: --walk draws pictures, for image runs")
    pixels = walk_frames(G, points, frames, seed, label=label, truncation=truncation)
    scale = max(1, MIN_SIDE // pixels.shape[-1])
    images = [grid_image(frame[None], nrow=1, pad=0) for frame in pixels]
    images = [im.resize((im.width * scale, im.height * scale), Image.NEAREST) for im in images]
    write_atomic(Path(out), gif_bytes(images, FRAME_MS))
    return f"a walk through {points} points, {frames} frames each, seed {seed}"
