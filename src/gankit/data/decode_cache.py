"""The decode cache of ``folder:PATH`` (``folders/`` in the user cache): a folder's pictures decoded once per list of
files (paths, sizes, modification times) and read settings, stored as a ``.npy`` of uint8 [N, C, R, R] beside a JSON
that says which files were read, and read back memory-mapped so a folder larger than memory trains."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..fileio import cache_dir, write_atomic

if TYPE_CHECKING:  # folder.py imports this module; the settings type is only named here
    from .folder import ReadSettings

log = logging.getLogger(__name__)

# part of the cache's key: a change to how pictures are read makes new entries
READER_VERSION = 2

Decoded = tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]
# decode_all(paths, how, strict, name, out=None) -> (uint8 [n, C, R, R], bool [N] read, [(path, why)])
DecodeAll = Callable[..., Decoded]


def decoded(
    paths: list[Path], how: ReadSettings, strict: bool, name: str, decode_all: DecodeAll
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """:func:`decode_all`, through the user cache: pictures are decoded once for a given list of files (paths,
    sizes, modification times) and read settings; a changed, added or removed file makes a new entry. The pixels
    come back memory-mapped from the cache file (pages are read as batches touch them), so a folder larger than
    memory trains; without a writable cache they are decoded into memory, with a warning."""
    key = _cache_key(paths, how)
    folder = cache_dir() / "folders"
    pixels, about = folder / f"{key}.npy", folder / f"{key}.json"
    cached = _read_cached(pixels, about, len(paths), strict)
    if cached is not None:
        return cached
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return _decode_to_cache(paths, how, strict, name, pixels, about, decode_all)
    except (
        OSError
    ) as e:  # a read-only or full cache costs memory and the next run a decode, nothing else
        log.warning(
            "folder:%s: could not cache the decoded pictures in %s (%s); decoding into memory",
            name,
            folder,
            e.strerror,
        )
        return decode_all(paths, how, strict, name)


def _read_cached(
    pixels: Path, about: Path, n_files: int, strict: bool
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]] | None:
    """A complete cache entry (memory-mapped, copy-on-write: the file never changes), or None."""
    try:
        meta = json.loads(about.read_text())
        ok = np.array(meta["ok"], dtype=bool)
        x = np.load(pixels, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # not cached yet, or an entry cut short: decode again
    if len(ok) != n_files or x.shape[0] < ok.sum() or (strict and meta["failures"]):
        return None
    return x[: int(ok.sum())], ok, [tuple(f) for f in meta["failures"]]


def _decode_to_cache(
    paths: list[Path],
    how: ReadSettings,
    strict: bool,
    name: str,
    pixels: Path,
    about: Path,
    decode_all: DecodeAll,
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Decode straight into a memory-mapped .npy beside ``pixels`` (never the whole folder in memory), then put
    it in place and describe it in ``about``; an interrupted decode leaves no entry."""
    tmp = pixels.with_name(f".{pixels.name}.tmp-{os.getpid()}")
    shape = (len(paths), 1 if how.mode == "L" else 3, how.resolution, how.resolution)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        _, ok, failures = decode_all(paths, how, strict, name, out)
        out.flush()
        del out
        os.replace(tmp, pixels)
    finally:
        tmp.unlink(missing_ok=True)
    write_atomic(about, json.dumps({"ok": ok.tolist(), "failures": failures}).encode())
    cached = _read_cached(pixels, about, len(paths), strict=False)
    if cached is None:
        raise OSError(errno.EIO, "the entry just written does not read back", str(pixels))
    return cached


def _cache_key(paths: list[Path], how: ReadSettings) -> str:
    """SHA-256 of every file's path, size and modification time and of the read settings (and reader version)."""
    digest = hashlib.sha256(json.dumps([READER_VERSION, dataclasses.astuple(how)]).encode())
    for p in paths:
        st = p.stat()
        digest.update(f"{p.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()
