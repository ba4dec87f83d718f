"""Uploaded point files for the playground: CSV text of 1-D or 2-D points, checked before anything is trained.

The rules are those of ``points:PATH`` (:func:`gankit.data.points.parse_csv` and ``validate``: numbers in ASCII
decimal notation only, one point per line, an optional header, no NaN/Inf, equal row lengths), plus the playground's
limits: at most ``MAX_BYTES`` bytes and ``MAX_ROWS`` points, at least ``MIN_ROWS`` points, and 1 or 2 columns.
Every failure is a one-line :class:`~gankit.errors.DatasetError` naming the uploaded file, and the line and column of
a bad value.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.points import parse_csv, validate
from ..errors import DatasetError

MAX_BYTES = 5 * 2**20
MAX_ROWS = 100_000
MIN_ROWS = 16


@dataclass(frozen=True)
class Upload:
    """A checked upload: the file's cleaned base name and its points float32 [N, d], d ∈ {1, 2}."""

    name: str
    x: torch.Tensor

    @property
    def dim(self) -> int:
        return self.x.shape[1]


def clean_name(name: str) -> str:
    """The base name of an uploaded file, printable, at most 80 characters (for messages and folder names)."""
    base = re.sub(r"[^\w.\-]+", "_", os.path.basename(name or ""))[:80]
    return base or "upload.csv"


def too_large(name: str, size: int) -> DatasetError:
    return DatasetError(
        f"{name}: {size:,} bytes is too large; the playground takes at most {MAX_BYTES:,} bytes "
        f"({MAX_BYTES // 2**20} MiB) of points"
    )


def parse_upload(data: bytes, name: str) -> Upload:
    """CSV bytes → an :class:`Upload` of float32 [N, d], d ∈ {1, 2}, MIN_ROWS ≤ N ≤ MAX_ROWS."""
    name = clean_name(name)
    x = parse_csv(_text(data, name), name)
    if x.shape[1] not in (1, 2):
        raise DatasetError(
            f"{name}: rows have {x.shape[1]} values; the playground takes 1-D or 2-D points "
            f"(1 or 2 columns)"
        )
    x = validate(x, Path(name))
    if not MIN_ROWS <= len(x) <= MAX_ROWS:
        raise DatasetError(
            f"{name}: {len(x):,} points; the playground takes {MIN_ROWS} to {MAX_ROWS:,}"
        )
    return Upload(name, torch.from_numpy(np.ascontiguousarray(x)))


def _text(data: bytes, name: str) -> str:
    """The upload as text, after the size, binary, UTF-8 and line-count checks."""
    if len(data) > MAX_BYTES:
        raise too_large(name, len(data))
    if b"\x00" in data:
        raise DatasetError(f"{name}: is not a CSV text file (it holds binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{name}: is not a CSV text file (byte {e.start} is not UTF-8 text)"
        ) from None
    if data.count(b"\n") > MAX_ROWS + 1:
        raise DatasetError(
            f"{name}: more than {MAX_ROWS:,} lines; the playground takes at most {MAX_ROWS:,} points"
        )
    return text


def csv_bytes(x: torch.Tensor) -> bytes:
    """float32 [N, 1 or 2] → CSV text with a header; 9 significant digits: read back, the same float32 values."""
    header = "x" if x.shape[1] == 1 else "x,y"
    rows = "\n".join(",".join(f"{v:.9g}" for v in row) for row in x.double().tolist())
    return f"{header}\n{rows}\n".encode()
