"""The one place where data meets a model's size, colours and range (docs/design.md, 'Data sources').

:func:`conform`: images to ``data.resolution`` and ``data.channels``. Ranges: ``unit``: [0, 1] (the paper's sigmoid
generator); ``symmetric``: [-1, 1] (tanh generators); ``none``: toy points.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

RANGES = ("unit", "symmetric", "none")
MODES = {"gray": "L", "rgb": "RGB"}  # data.channels → Pillow mode (L: ITU-R BT.601 luma of R, G, B)


WHITE = (255, 255, 255)


def flatten(im: Image.Image, background: tuple[int, int, int] = WHITE) -> Image.Image:
    """Any Pillow image → mode L or RGB as a person sees it: EXIF orientation applied; transparency (RGBA, LA, PA,
    a palette or a colour key) composited onto ``background``; 16- and 32-bit grey scaled to 8 bits (0..65535 →
    0..255, ÷257 rounded); CMYK, YCbCr and other modes converted to RGB."""
    im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I") or im.mode == "F":
        im = _eight_bit_gray(im)
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", im.size, (*background, 255)), rgba).convert(
            "RGB"
        )
    return im if im.mode in ("L", "RGB") else im.convert("RGB")


def _eight_bit_gray(im: Image.Image) -> Image.Image:
    """A 16-bit (``I;16``, how Pillow opens 16-bit grey PNGs), 32-bit integer (``I``) or float (``F``) grey image,
    0..65535, → L 0..255 (÷257, rounded; values outside 0..65535 clipped); with a colour key (PNG tRNS,
    ``info["transparency"]``: one 16-bit value) → LA, transparent exactly where a pixel equals the key."""
    a = np.asarray(im)
    gray = Image.fromarray(np.rint(np.clip(a, 0, 65535) / 257.0).astype(np.uint8), "L")
    key = im.info.get("transparency")
    if not isinstance(key, (int, float)):
        return gray
    alpha = Image.fromarray(np.where(a == key, 0, 255).astype(np.uint8), "L")
    return Image.merge("LA", (gray, alpha))


def fit_image(
    im: Image.Image,
    resolution: int | None,
    mode: str | None,
    fit: str = "crop",
    background: tuple[int, int, int] = WHITE,
) -> np.ndarray:
    """One Pillow image → uint8 [C, R, R]: flattened (:func:`flatten`, transparency onto ``background``), converted
    to ``mode`` (L or RGB; None keeps L or RGB as it is), then ``fit``: ``crop`` scales the short side to R with
    Pillow's antialiased bicubic filter and centre-crops; ``pad`` scales the long side to R and centres the picture
    on a ``background`` square. ``resolution`` None keeps the size."""
    im = flatten(im, background)
    im = im.convert(mode or im.mode)
    if resolution is not None:
        im = _padded(im, resolution, background) if fit == "pad" else _cropped(im, resolution)
    arr = np.asarray(im, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _cropped(im: Image.Image, resolution: int) -> Image.Image:
    """Short side scaled to ``resolution``, centre-cropped to a square."""
    w, h = im.size
    scale = resolution / min(w, h)
    size = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
    if size != (w, h):
        im = im.resize(size, Image.Resampling.BICUBIC)
    left, top = (size[0] - resolution) // 2, (size[1] - resolution) // 2
    return im.crop((left, top, left + resolution, top + resolution))


def _padded(im: Image.Image, resolution: int, background: tuple[int, int, int]) -> Image.Image:
    """Long side scaled to ``resolution``, centred on a square of ``background``."""
    w, h = im.size
    scale = resolution / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size != (w, h):
        im = im.resize(size, Image.Resampling.BICUBIC)
    # Pillow's luma for L
    fill = Image.new("RGB", (1, 1), background).convert(im.mode).getpixel((0, 0))
    square = Image.new(im.mode, (resolution, resolution), fill)
    square.paste(im, ((resolution - size[0]) // 2, (resolution - size[1]) // 2))
    return square


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
