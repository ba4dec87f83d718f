"""Image-model figures: the fixed-noise grid over training as a GIF, nearest training images, latent interpolations.

The nearest-neighbour figure follows Figure 2 of Goodfellow et al. (2014), "Generative Adversarial Nets": samples,
and in the rightmost column the nearest training example of the neighbouring sample, showing that the model has not
memorised the training set. Every function returns encoded bytes and is deterministic (same inputs → same bytes).
"""

from __future__ import annotations

import io

import torch
from PIL import Image, ImageDraw, ImageFont

from .grids import even_indices, gif_bytes, grid_image, png_bytes

GIF_FRAME_MS = 250
SEPARATOR = (255, 215, 0)  # the yellow line before the nearest-neighbour column


def _upscale(image: Image.Image, scale: int) -> Image.Image:
    """Nearest-neighbour enlargement by an integer factor (pixels stay crisp)."""
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    if scale == 1:
        return image
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def grid_gif(
    frames: list[bytes], labels: list[str], *, max_frames: int = 60, scale: int = 2
) -> bytes:
    """Animated GIF of the fixed-noise sample grids over training.

    ``frames``: PNG (or any Pillow-readable) bytes of equally sized images, oldest first; ``labels``: one caption per
    frame (e.g. ``"step 500"``), drawn in black in a white strip above the upscaled grid. Frames are subsampled
    evenly to at most ``max_frames`` (≥ 2), keeping the first and the last; each is shown 250 ms; the GIF loops.
    Grayscale frames stay grayscale, anything else becomes RGB.
    """
    if not frames:
        raise ValueError("grid_gif needs at least one frame")
    if len(labels) != len(frames):
        raise ValueError(f"grid_gif got {len(frames)} frames but {len(labels)} labels")
    if max_frames < 2:
        raise ValueError(f"max_frames must be at least 2 (first and last frame), got {max_frames}")
    keep = even_indices(len(frames), max_frames)
    images = [Image.open(io.BytesIO(frames[i])) for i in keep]
    sizes = {im.size for im in images}
    if len(sizes) != 1:
        raise ValueError(f"grid_gif frames must all have the same size, got {sorted(sizes)}")
    mode = "L" if all(im.mode == "L" for im in images) else "RGB"
    white, black = (255, 0) if mode == "L" else ((255, 255, 255), (0, 0, 0))
    font = ImageFont.load_default()
    strip = font.getbbox("Ag0")[3] + 4
    out = []
    for image, i in zip(images, keep):
        body = _upscale(image.convert(mode), scale)
        canvas = Image.new(mode, (body.width, body.height + strip), white)
        canvas.paste(body, (0, strip))
        ImageDraw.Draw(canvas).text((2, 2), labels[i], fill=black, font=font)
        out.append(canvas)
    return gif_bytes(out, GIF_FRAME_MS)


def nearest_neighbours(
    samples: torch.Tensor, train: torch.Tensor, *, chunk: int = 4096, k: int = 1
) -> torch.Tensor:
    """Index of each sample's nearest training image in pixel L2 distance (``k`` > 1: its ``k`` nearest, nearest first).

    ``samples``: uint8 [n, C, H, W]; ``train``: uint8 [N, C, H, W] (same C, H, W; any device).
    Returns int64 [n] (``k`` = 1) or [n, k], values in [0, N), on ``train``'s device (so ``train[idx]`` works).
    Distances are ‖a‖² + ‖b‖² − 2a·b over ``chunk`` training images at a time, so memory is
    O(n·chunk + chunk·C·H·W) and N = 60,000 is fine. The arithmetic is float64, not float32: for uint8 pixels every
    partial sum is an integer below 2⁵³, so distances are exact (in float32 they are not beyond ~258 pixels) and
    ties go to the smallest index.
    """
    if samples.dim() != 4 or train.dim() != 4 or samples.shape[1:] != train.shape[1:]:
        raise ValueError(
            f"samples {tuple(samples.shape)} and train {tuple(train.shape)} must be [n|N, C, H, W] "
            "with the same C, H, W"
        )
    if train.shape[0] == 0:
        raise ValueError("nearest_neighbours needs at least one training image")
    if chunk < 1 or k < 1:
        raise ValueError(f"chunk and k must be positive integers, got {chunk} and {k}")
    a = samples.reshape(samples.shape[0], -1).to(torch.float64)
    a_sq = (a * a).sum(1)
    best = torch.empty((a.shape[0], 0), dtype=torch.float64, device=a.device)
    best_idx = torch.empty((a.shape[0], 0), dtype=torch.int64, device=a.device)
    for start in range(0, train.shape[0], chunk):
        b = train[start : start + chunk].reshape(-1, a.shape[1]).to(a.device, torch.float64)
        d = a_sq[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
        index = torch.arange(start, start + len(b), device=a.device).expand(len(a), -1)
        values, indices = torch.cat([best, d], 1), torch.cat([best_idx, index], 1)
        # stable: among equal distances the earlier (smaller) index stays first
        order = torch.sort(values, dim=1, stable=True).indices[:, :k]
        best, best_idx = values.gather(1, order), indices.gather(1, order)
    return (best_idx[:, 0] if k == 1 else best_idx).to(train.device)


def nearest_neighbour_figure(
    samples: torch.Tensor, neighbours: torch.Tensor, *, columns: int = 6
) -> bytes:
    """PNG in the style of the paper's Figure 2: samples beside the nearest training image.

    ``samples``, ``neighbours``: uint8 [n, C, H, W], ``neighbours[i]`` the nearest training image of ``samples[i]``.
    Each row shows ``columns − 1`` samples, then (after a thin yellow line) the nearest training image of the row's
    last sample. A short last row is right-aligned so its last sample still stands beside its neighbour.
    The picture is RGB and enlarged ×2.
    """
    if samples.shape != neighbours.shape or samples.dim() != 4 or samples.shape[0] == 0:
        raise ValueError(
            f"samples {tuple(samples.shape)} and neighbours {tuple(neighbours.shape)} must both be "
            "non-empty uint8 [n, C, H, W]"
        )
    if columns < 2:
        raise ValueError(
            f"columns must be at least 2 (one sample and its neighbour), got {columns}"
        )
    n, c, h, w = samples.shape
    k = columns - 1
    rows = -(-n // k)
    left = torch.full((rows * k, c, h, w), 255, dtype=torch.uint8)
    right = torch.empty((rows, c, h, w), dtype=torch.uint8)
    for r in range(rows):
        part = samples[r * k : (r + 1) * k].cpu()
        left[(r + 1) * k - len(part) : (r + 1) * k] = part
        right[r] = neighbours[r * k + len(part) - 1].cpu()
    grid_left = grid_image(left, nrow=k).convert("RGB")
    grid_right = grid_image(right, nrow=1).convert("RGB")
    sep = 1
    canvas = Image.new(
        "RGB", (grid_left.width + sep + grid_right.width, grid_left.height), SEPARATOR
    )
    canvas.paste(grid_left, (0, 0))
    canvas.paste(grid_right, (grid_left.width + sep, 0))
    return png_bytes(_upscale(canvas, 2))


def interpolation_figure(rows: torch.Tensor) -> bytes:
    """PNG of latent interpolations: ``rows`` uint8 [R, S, C, H, W] drawn as R rows of S images, enlarged ×2."""
    if rows.dim() != 5 or rows.shape[0] == 0 or rows.shape[1] == 0:
        raise ValueError(
            f"interpolation_figure wants uint8 [R, S, C, H, W], got {tuple(rows.shape)}"
        )
    r, s = rows.shape[:2]
    return png_bytes(_upscale(grid_image(rows.reshape(r * s, *rows.shape[2:]).cpu(), nrow=s), 2))
