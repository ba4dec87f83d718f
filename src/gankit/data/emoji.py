"""``emoji``: the colour emoji of Noto Color Emoji as pictures, a small colour set drawn by people (faces, people in
six skin tones, animals, food, objects, flags, symbols).

The font's ``CBDT`` table holds one 136×128 RGBA PNG per glyph (3,926 in Debian's ``fonts-noto-color-emoji``); they
are read with fontTools (no rendering), in glyph-id order, and each is read like a picture of a folder
(gankit.data.folder: transparency composited onto ``data.background``, ``data.fit``, ``data.channels``) at
``data.resolution`` (64 when null). The font is looked for as ``NotoColorEmoji.ttf`` in ``data.data_dir``,
``$GANKIT_DATA``, the user cache (each also under ``emoji/``) and then Debian's ``/usr/share/fonts/truetype/noto``.
Split: ``train`` only, no labels; evaluation compares generated pictures with this same set (docs/evaluation.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split, search_roots
from .folder import ReadSettings, read_settings
from .registry import register
from .transforms import fit_image

FONT = "NotoColorEmoji.ttf"
DEBIAN = "/usr/share/fonts/truetype/noto"
DEFAULT_RESOLUTION = 64
PACKAGE = "fonts-noto-color-emoji"


def find_font(cfg: DataConfig) -> Path | None:
    """The first ``NotoColorEmoji.ttf`` in the search roots (each root, then its ``emoji/``), else None."""
    for root in search_roots(cfg.data_dir, (DEBIAN,)):
        for candidate in (root / FONT, root / "emoji" / FONT):
            if candidate.is_file():
                return candidate
    return None


def bitmaps(font: Path) -> list[bytes]:
    """The PNG bytes of every colour bitmap in the font's ``CBDT`` table (its first strike), in glyph-id order."""
    from fontTools.ttLib import TTFont

    try:
        tt = TTFont(str(font), lazy=True)
        strike = tt["CBDT"].strikeData[0]
        order = sorted(strike, key=tt.getGlyphID)
        return [strike[name].imageData for name in order]
    except Exception as e:  # noqa: BLE001 -- fontTools raises many types on a damaged font
        raise DatasetError(
            f"emoji: cannot read the colour bitmaps of {font} ({type(e).__name__}: {e})"
        ) from None


def decode(png: bytes, how: ReadSettings) -> np.ndarray:
    """One bitmap → uint8 [C, R, R], read as a picture of a folder is."""
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        return fit_image(im, how.resolution, how.mode, how.fit, how.background)


@register(
    "emoji",
    "Noto Color Emoji's 3,926 colour bitmaps as pictures, on data.background (apt-get install "
    f"{PACKAGE})",
    locate=lambda cfg, path: locate_emoji(cfg),
)
def load_emoji(cfg: DataConfig, path: str) -> Dataset:
    """emoji → train uint8 [N, C, R, R] (C = 3 rgb by default, R = data.resolution or 64), no labels."""
    font = find_font(cfg)
    if font is None:
        raise DatasetError(
            f"emoji: {FONT} not found (looked in {_looked(cfg)}); install it with "
            f"apt-get install {PACKAGE}, or put it in data.data_dir"
        )
    how = read_settings(cfg, DEFAULT_RESOLUTION)
    x = np.stack([decode(png, how) for png in bitmaps(font)])
    return Dataset("emoji", "image", {"train": Split(torch.from_numpy(x))}, source=str(font))


def locate_emoji(cfg: DataConfig) -> SourceStatus:
    """Whether the font is present, where, and how many bitmaps it holds (their PNGs are not decoded)."""
    font = find_font(cfg)
    if font is None:
        return SourceStatus(False, f"looked in {_looked(cfg)}; apt-get install {PACKAGE}")
    how = read_settings(cfg, DEFAULT_RESOLUTION)
    try:
        n = len(bitmaps(font))
    except DatasetError as e:
        return SourceStatus(True, str(font), f"unreadable: {e}")
    return SourceStatus(
        True, str(font), f"{n:,} pictures → {len(how.mode)}×{how.resolution}×{how.resolution}"
    )


def _looked(cfg: DataConfig) -> str:
    return ", ".join(str(r) for r in search_roots(cfg.data_dir, (DEBIAN,)))
