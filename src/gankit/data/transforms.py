"""The one place where data meets a model's size, colours and range (docs/design.md, 'Data sources').

:func:`conform`: images to ``data.resolution`` and ``data.channels``. Ranges: ``unit``: [0, 1] (the paper's sigmoid
generator); ``symmetric``: [-1, 1] (tanh generators); ``none``: toy points.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

RANGES = ("unit", "symmetric", "none")
MODES = {"gray": "L", "rgb": "RGB"}  # data.channels → Pillow mode (L: ITU-R BT.601 luma of R, G, B)


def fit_image(im: Image.Image, resolution: int | None, mode: str | None) -> np.ndarray:
    """One Pillow image → uint8 [C, R, R]: converted to ``mode`` (L or RGB; None keeps L or RGB as it is), short side
    scaled to R with Pillow's antialiased bicubic filter, centre-cropped (None keeps the size)."""
    im = im.convert(mode or ("L" if im.mode == "L" else "RGB"))
    if resolution is not None:
        w, h = im.size
        scale = resolution / min(w, h)
        size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
        if size != (w, h):
            im = im.resize(size, Image.Resampling.BICUBIC)
        left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
        im = im.crop((left, top, left + resolution, top + resolution))
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def conform(x: torch.Tensor, resolution: int | None, channels: str | None) -> torch.Tensor:
    """uint8 images [N, C, H, W] (C = 1 or 3) → uint8 [N, C', R, R] by :func:`fit_image` (``channels`` gray → C' = 1,
    rgb → C' = 3; None keeps either property); images already in that form are returned as they are."""
    c = {"gray": 1, "rgb": 3}.get(channels, x.shape[1])
    if x.shape[1] == c and (resolution is None or tuple(x.shape[2:]) == (resolution, resolution)):
        return x
    mode = MODES[channels] if channels else None
    arrays = np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())
    images = (Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a) for a in arrays)
    return torch.from_numpy(np.stack([fit_image(im, resolution, mode) for im in images]))


def to_model_range(x: torch.Tensor, value_range: str) -> torch.Tensor:
    """uint8 [N, C, H, W] in 0..255 → float32 in ``value_range``; float points pass through unchanged."""
    if x.dtype != torch.uint8 or value_range == "none":
        return x.float()
    x = x.float() / 255.0
    return x * 2.0 - 1.0 if value_range == "symmetric" else x


def to_uint8(x: torch.Tensor, value_range: str) -> torch.Tensor:
    """Model output in ``value_range`` → uint8 0..255 (rounded, clamped); inverse of :func:`to_model_range`."""
    if value_range == "symmetric":
        x = (x + 1.0) / 2.0
    return (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
