"""``points:PATH``: the user's own 1-D or 2-D points (any dimension d ≤ 16 is accepted) as float32 [N, d].

Formats: ``.csv`` (numbers in ASCII decimal notation only, such as ``-1.5e-3``: no other scripts' digits, no ``_``,
no ``nan``/``inf``; comma separated, one point per line, an optional single header line, blank lines ignored) or
``.npy`` (a numeric array [N] or [N, d], loaded with ``allow_pickle=False``). Every problem (missing file, empty,
ragged rows, a value that is not a number, NaN or ±Inf, too many dimensions, a file over 256 MiB or a .npy header
declaring more data than the file holds) is a one-line :class:`DatasetError` naming the file and the line (and
column) or row. Splits: ``train`` only.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split
from .registry import register

MAX_DIM = 16
MAX_BYTES = 256 * 2**20  # a CSV this size already takes a few GB as Python floats while parsed


NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # one CSV value
BLANKS = " \t"  # stripped around each value


def _python_float(field: str) -> float | None:
    """``float(field)``, or None when Python does not read it as a number either."""
    try:
        return float(field)
    except ValueError:
        return None


def _number(field: str, where: str) -> float:
    """One field in ASCII decimal notation → its value; anything else is an error naming ``where`` it is."""
    value = _python_float(field)
    if NUMBER.fullmatch(field) and math.isfinite(value):
        return value
    if value is not None and not math.isfinite(value):  # nan, inf, or beyond float64 (1e999)
        raise DatasetError(f"{where}: {field!r} is not a finite number (points must be finite)")
    raise DatasetError(
        f"{where}: {field!r} is not a number (ASCII decimal notation only, such as -1.5e-3)"
    )


def parse_csv(text: str, name: str) -> np.ndarray:
    """CSV text → float32 [N, d]: comma-separated numbers, one point per line, blank lines skipped; a first line
    with a field that is no number in any notation is a header (a first line of numbers in another notation is an
    error, not a header). Errors name ``name`` and the line and column."""
    rows: list[list[float]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        fields = [f.strip(BLANKS) for f in line.split(",")]
        if fields == [""] or (lineno == 1 and any(_python_float(f) is None for f in fields)):
            continue
        values = [
            _number(f, f"{name}: line {lineno}, column {col}")
            for col, f in enumerate(fields, start=1)
        ]
        if rows and len(values) != len(rows[0]):
            raise DatasetError(
                f"{name}: line {lineno} has {len(values)} values, earlier lines have {len(rows[0])}"
            )
        rows.append(values)
    if not rows:
        raise DatasetError(f"{name}: no points (the file is empty or holds only a header)")
    return _to_float32(np.asarray(rows, dtype=np.float64))


def read_csv(path: Path) -> np.ndarray:
    """A CSV file → float32 [N, d] (:func:`parse_csv`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read points file: {e}") from None
    return parse_csv(text, str(path))


def read_npy(path: Path) -> np.ndarray:
    """.npy [N] or [N, d] numeric → float32 [N, d] (a 1-D array is N points of dimension 1)."""
    try:
        _check_npy_size(path)
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(
            f"{path}: cannot read .npy points (numeric arrays only, no pickles): {e}"
        ) from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        kind = getattr(arr, "dtype", type(arr).__name__)
        raise DatasetError(f"{path}: .npy points must be an integer or float array, got {kind}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise DatasetError(
            f"{path}: .npy points must be [N] or [N, d], got shape {list(arr.shape)}"
        )
    return _to_float32(arr)


def _check_npy_size(path: Path) -> None:
    """Refuse a .npy whose header declares more data than the file holds, before numpy allocates that much."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read(f)
        held = path.stat().st_size - f.tell()
    declared = math.prod(shape) * dtype.itemsize
    if not dtype.hasobject and declared > held:  # object arrays are refused by np.load (no pickles)
        raise DatasetError(
            f"{path}: .npy header declares shape {list(shape)} ({declared:,} bytes of data), "
            f"the file holds {held:,} bytes (truncated or damaged)"
        )


def _to_float32(arr: np.ndarray) -> np.ndarray:
    with np.errstate(
        over="ignore", invalid="ignore"
    ):  # overflow becomes ±Inf, reported by validate()
        return arr.astype(np.float32)


def validate(x: np.ndarray, path: Path) -> np.ndarray:
    """Check float32 [N, d]: N ≥ 1, 1 ≤ d ≤ 16, all finite (after the cast to float32); returns x."""
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DatasetError(f"{path}: no points (shape {list(x.shape)})")
    if x.shape[1] > MAX_DIM:
        raise DatasetError(
            f"{path}: points have {x.shape[1]} dimensions; points:PATH takes 1-D or 2-D points "
            f"(at most {MAX_DIM})"
        )
    bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad_rows):
        row = int(bad_rows[0])
        raise DatasetError(
            f"{path}: row {row} (0-based) is {x[row].tolist()}: NaN or Inf (or too large for "
            f"float32); {len(bad_rows)} such row(s)"
        )
    return x


def _path(path: str) -> Path:
    p = Path(path).expanduser()
    if p.suffix.lower() not in (".csv", ".npy"):
        raise DatasetError(f"points:{path}: the file must end in .csv or .npy")
    return p


@register(
    "points",
    "your own 1-D/2-D points from a .csv or .npy file",
    takes_path=True,
    locate=lambda cfg, path: locate_points(path),
)
def load_points(cfg: DataConfig, path: str) -> Dataset:
    """points:PATH → float32 [N, d] train split (no labels, no other splits)."""
    p = _path(path)
    if not p.is_file():
        raise DatasetError(f"points:{path}: no such file {p}")
    if p.stat().st_size > MAX_BYTES:
        raise DatasetError(
            f"{p}: the file is {p.stat().st_size:,} bytes; points:PATH reads at most {MAX_BYTES:,} "
            f"bytes (use a random subsample)"
        )
    x = read_npy(p) if p.suffix.lower() == ".npy" else read_csv(p)
    x = validate(x, p)
    return Dataset(
        "points",
        "points",
        {"train": Split(torch.from_numpy(np.ascontiguousarray(x)))},
        source=str(p),
    )


def locate_points(path: str) -> SourceStatus:
    """Whether the file exists; its shape for .npy (header only), its size in bytes for .csv."""
    p = Path(path).expanduser()
    if not p.is_file():
        return SourceStatus(False, f"looked for {p}")
    if p.suffix.lower() == ".npy":
        try:
            # maps the file: reads the header only
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
            return SourceStatus(True, str(p), f"array {list(arr.shape)} {arr.dtype}")
        except (OSError, ValueError, EOFError) as e:
            return SourceStatus(True, str(p), f"unreadable: {e}")
    return SourceStatus(True, str(p), f"{p.stat().st_size:,} bytes")
