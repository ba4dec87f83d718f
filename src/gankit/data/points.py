"""``points:PATH``: the user's own 1-D or 2-D points (any dimension d ≤ 16 is accepted) as float32 [N, d].

Formats: ``.csv`` (numbers only, comma separated, one point per line, an optional single header line, blank lines
ignored) or ``.npy`` (a numeric array [N] or [N, d], loaded with ``allow_pickle=False``). Every problem (missing
file, empty, ragged rows, a value that is not a number, NaN or ±Inf, too many dimensions, a file over 256 MiB or a
.npy header declaring more data than the file holds) is a one-line :class:`DatasetError` naming the file and the line
or row. Splits: ``train`` only.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split
from .registry import register

MAX_DIM = 16
MAX_BYTES = 256 * 2**20  # a CSV this size already takes a few GB as Python floats while parsed


def _float(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def read_csv(path: Path) -> np.ndarray:
    """CSV → float32 [N, d]; a first line with any non-number is a header and is skipped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read points file: {e}") from None
    rows: list[list[float]] = []
    width = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        values = [_float(f) for f in fields]
        if any(v is None for v in values):
            if not rows and lineno == 1:
                continue  # the optional header
            bad = fields[values.index(None)]
            raise DatasetError(f"{path}: line {lineno}: {bad!r} is not a number")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise DatasetError(f"{path}: line {lineno} has {len(values)} values, earlier lines have {width}")
        bad_value = next((v for v in values if not math.isfinite(v)), None)  # type: ignore[arg-type]
        if bad_value is not None:
            raise DatasetError(f"{path}: line {lineno}: {bad_value} (points must be finite numbers)")
        rows.append(values)  # type: ignore[arg-type]
    if not rows:
        raise DatasetError(f"{path}: no points (the file is empty or holds only a header)")
    return _to_float32(np.asarray(rows, dtype=np.float64))


def read_npy(path: Path) -> np.ndarray:
    """.npy [N] or [N, d] numeric → float32 [N, d] (a 1-D array is N points of dimension 1)."""
    try:
        _check_npy_size(path)
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(f"{path}: cannot read .npy points (numeric arrays only, no pickles): {e}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        kind = getattr(arr, "dtype", type(arr).__name__)
        raise DatasetError(f"{path}: .npy points must be an integer or float array, got {kind}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DatasetError(f"{path}: .npy points must be [N] or [N, d], got shape {list(arr.shape)}")
    return _to_float32(arr)


def _check_npy_size(path: Path) -> None:
    """Refuse a .npy whose header declares more data than the file holds, before numpy allocates that much."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
        held = path.stat().st_size - f.tell()
    declared = math.prod(shape) * dtype.itemsize
    if not dtype.hasobject and declared > held:  # object arrays are refused by np.load (no pickles)
        raise DatasetError(f"{path}: .npy header declares shape {list(shape)} ({declared:,} bytes of data), "
                           f"the file holds {held:,} bytes (truncated or damaged)")


def _to_float32(arr: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # overflow becomes ±Inf, reported by validate()
        return arr.astype(np.float32)


def validate(x: np.ndarray, path: Path) -> np.ndarray:
    """Check float32 [N, d]: N ≥ 1, 1 ≤ d ≤ 16, all finite (after the cast to float32); returns x."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DatasetError(f"{path}: no points (shape {list(x.shape)})")
    if x.shape[1] > MAX_DIM:
        raise DatasetError(f"{path}: points have {x.shape[1]} dimensions; points:PATH takes 1-D or 2-D points "
                           f"(at most {MAX_DIM})")
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise DatasetError(f"{path}: row {row} (0-based) is {x[row].tolist()}: NaN or Inf (or too large for "
                           f"float32); {len(bad_rows)} such row(s)")
    return x


def _path(path: str) -> Path:
    p = Path(path).expanduser()
    if p.suffix.lower() not in (".csv", ".npy"):
        raise DatasetError(f"points:{path}: the file must end in .csv or .npy")
    return p


@register("points", "your own 1-D/2-D points from a .csv or .npy file", takes_path=True,
          locate=lambda cfg, path: locate_points(path))
def load_points(cfg: DataConfig, path: str) -> Dataset:
    """points:PATH → float32 [N, d] train split (no labels, no other splits)."""
    p = _path(path)
    if not p.is_file():
        raise DatasetError(f"points:{path}: no such file {p}")
    if p.stat().st_size > MAX_BYTES:
        raise DatasetError(f"{p}: the file is {p.stat().st_size:,} bytes; points:PATH reads at most {MAX_BYTES:,} "
                           f"bytes (use a random subsample)")
    x = read_npy(p) if p.suffix.lower() == ".npy" else read_csv(p)
    x = validate(x, p)
    return Dataset("points", "points", {"train": Split(torch.from_numpy(np.ascontiguousarray(x)))}, source=str(p))


def locate_points(path: str) -> SourceStatus:
    """Whether the file exists; its shape for .npy (header only), its size in bytes for .csv."""
    p = Path(path).expanduser()
    if not p.is_file():
        return SourceStatus(False, f"looked for {p}")
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)  # maps the file: reads the header only
            return SourceStatus(True, str(p), f"array {list(arr.shape)} {arr.dtype}")
        except (OSError, ValueError, EOFError) as e:
            return SourceStatus(True, str(p), f"unreadable: {e}")
    return SourceStatus(True, str(p), f"{p.stat().st_size:,} bytes")
