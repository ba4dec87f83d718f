"""The decode cache's size (gankit.data.decode_cache): where its entries live (``folders/`` in the user cache), which
files make a complete entry, the cap on the whole folder (``GANKIT_CACHE_MAX_GB``, default 20 GB) and the removals
that keep it: older entries of a folder, files of no entry a day old, then the least recently used."""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path
from typing import NamedTuple

from ..errors import DatasetError
from ..fileio import cache_dir

DEFAULT_CAP_GB = 20.0
# a file of no entry (a killed decode's, an older gankit's) is removed once this old
STALE_S = 86400
# an entry's file name without its suffix: SLOT-KEY
STEM = re.compile(r"[0-9a-f]{32}-[0-9a-f]{32}")


class CacheFile(NamedTuple):
    """A complete entry (``path``: its stem, ``size``: of its .npy and .json, ``used``: its JSON's modification
    time) or another file of the cache folder (its path, size and modification time)."""

    path: Path
    size: int
    used: float


def cache_folder() -> Path:
    """``folders/`` in the user cache."""
    return cache_dir() / "folders"


def cap_bytes() -> int:
    """The decode cache's cap in bytes: ``GANKIT_CACHE_MAX_GB`` (decimal gigabytes, fractions allowed) or 20 GB."""
    text = os.environ.get("GANKIT_CACHE_MAX_GB", "").strip()
    try:
        gb = float(text) if text else DEFAULT_CAP_GB
    except ValueError:
        gb = math.nan
    if not 0 <= gb < math.inf:
        raise DatasetError(f"GANKIT_CACHE_MAX_GB must be a number of gigabytes ≥ 0, got {text!r}")
    return int(gb * 1e9)


def human_size(n: float) -> str:
    """``n`` bytes in decimal units, e.g. ``614 MB``, ``2.5 GB``."""
    unit = "bytes"
    for larger in ("kB", "MB", "GB"):
        if n < 999.5:
            break
        n, unit = n / 1000, larger
    return f"{n:.1f} {unit}" if n < 9.95 and unit != "bytes" else f"{n:.0f} {unit}"


def clear() -> tuple[int, int]:
    """Remove every entry and every file of no entry older than a day: (entries removed, bytes freed)."""
    found, other = scan(cache_folder())
    freed = sum(remove(e.path) for e in found + stale(other))
    return len(found), freed


def tidy(folder: Path, keep: Path, cap: int) -> bool:
    """After ``keep`` was written: remove the other entries of its slot and files of no entry older than a day, then
    the least recently used entries (``keep`` last) until the cache fits its cap. Whether ``keep`` is still there."""
    found, other = scan(folder)
    slot = keep.name.split("-")[0]
    older = [e for e in found if e.path.name.startswith(slot) and e.path != keep]
    old_files = stale(other)
    for e in older + old_files:
        remove(e.path)
    found = [e for e in found if e not in older]
    total = sum(e.size for e in found) + sum(f.size for f in other if f not in old_files)
    for e in sorted(found, key=lambda e: (e.path == keep, e.used)):
        if total <= cap:
            break
        total -= remove(e.path)
    return keep.with_suffix(".json").exists()


def scan(folder: Path) -> tuple[list[CacheFile], list[CacheFile]]:
    """The complete entries in ``folder`` (a JSON and its .npy), least recently used first, and its other files."""
    try:
        with os.scandir(folder) as it:
            files = {
                e.name: e.stat(follow_symlinks=False)
                for e in it
                if e.is_file(follow_symlinks=False)
            }
    except FileNotFoundError:
        return [], []
    stems = [n[:-5] for n in files if n.endswith(".json") and STEM.fullmatch(n[:-5])]
    stems = [s for s in stems if f"{s}.npy" in files]
    found = [
        CacheFile(
            folder / s,
            files[f"{s}.npy"].st_size + files[f"{s}.json"].st_size,
            files[f"{s}.json"].st_mtime,
        )
        for s in stems
    ]
    ours = {f"{s}{ext}" for s in stems for ext in (".npy", ".json")}
    other = [
        CacheFile(folder / n, st.st_size, st.st_mtime) for n, st in files.items() if n not in ours
    ]
    return sorted(found, key=lambda e: e.used), other


def stale(other: list[CacheFile]) -> list[CacheFile]:
    """The files of no entry left more than a day ago (by a killed decode, or an older gankit)."""
    now = time.time()
    return [f for f in other if now - f.used > STALE_S]


def remove(path: Path) -> int:
    """Remove the entry ``path`` (a stem: its JSON first, then its .npy) or the file ``path``; the bytes freed.
    A process that maps the .npy keeps reading it (POSIX)."""
    targets = [path]
    if STEM.fullmatch(path.name):
        targets = [path.with_suffix(".json"), path.with_suffix(".npy")]
    freed = 0
    for target in targets:
        try:
            size = target.stat().st_size
            target.unlink()
            freed += size
        except OSError:  # gone already, or held open where that forbids removal
            pass
    return freed


def touch(path: Path) -> None:
    """Record a use of the entry whose JSON is ``path`` (its modification time: the cap evicts the oldest)."""
    try:
        os.utime(path)
    except OSError:  # a read-only cache: the entry is used all the same
        pass
