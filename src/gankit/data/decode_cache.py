"""The decode cache of ``folder:PATH`` (``folders/`` in the user cache): a folder's pictures decoded once per list of
files (paths, sizes, modification times) and read settings, stored as a ``.npy`` of uint8 [N, C, R, R] beside a JSON
that says which files were read, and read back memory-mapped so a folder larger than memory trains.

An entry is named ``SLOT-KEY``: the slot is the folder's resolved path and the read settings, the key the list of
files. Writing an entry removes the older ones of its slot, so the cache holds one entry per folder and settings.
The JSON holds a SHA-256 of every 8 MiB chunk of the ``.npy`` (taken after decoding, checked on every load, chunks
hashed in parallel through a memory map) and a seal, the SHA-256 of its other fields: a damaged, edited or cut entry
is decoded again, with a one-line warning naming it. The whole cache is capped (gankit.data.cache_size;
``GANKIT_CACHE_MAX_GB``, default 20 GB): the least recently used entries go first."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mmap
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..fileio import write_atomic
from .cache_size import cache_folder, cap_bytes, human_size, scan, tidy, touch

if TYPE_CHECKING:  # folder.py imports this module; the settings type is only named here
    from .folder import ReadSettings

log = logging.getLogger(__name__)

# part of the cache's key: a change to how pictures are read makes new entries
READER_VERSION = 3
CHUNK = 8 << 20  # bytes of the .npy per SHA-256
Decoded = tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]
# decode_all(paths, how, strict, name, out=None) -> (uint8 [n, C, R, R], bool [N] read, [(path, why)])
DecodeAll = Callable[..., Decoded]


class _Damaged(Exception):
    """An entry that cannot be trusted; the message says why."""


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One complete entry: ``stem`` (``folders/SLOT-KEY``, + ``.npy`` / ``.json``), ``size`` of both files in bytes,
    ``used`` (the JSON's modification time, renewed by each load, seconds since the epoch) and ``about`` (the JSON's
    fields, None when unreadable or its seal fails)."""

    stem: Path
    size: int
    used: float
    about: dict | None


def decoded(
    paths: list[Path], how: ReadSettings, strict: bool, name: str, decode_all: DecodeAll
) -> Decoded:
    """:func:`decode_all` of the files ``paths`` under the folder ``name`` (as the user gave it), through the cache:
    a sound entry for these files and settings is mapped (copy-on-write), else the pictures are decoded into a new
    one. Without a writable cache they are decoded into memory, with a warning."""
    folder, cap, root = cache_folder(), cap_bytes(), Path(name).expanduser()
    resolved = root.resolve()
    slot = _slot(resolved, how)
    stem = folder / f"{slot}-{_cache_key(paths, root, slot)}"
    shape = (len(paths), 1 if how.mode == "L" else 3, how.resolution, how.resolution)
    cached = _read_cached(stem, shape, strict, name)
    if cached is not None:
        return cached
    try:
        folder.mkdir(parents=True, exist_ok=True)
        about = {"folder": os.fsdecode(resolved), "settings": describe(how)}
        result = _decode_to_cache(paths, how, strict, name, stem, about, decode_all)
    except OSError as e:
        # a read-only or full cache costs memory and the next run a decode, nothing else
        log.warning(
            "folder:%s: could not cache the decoded pictures in %s (%s); decoding into memory",
            name,
            folder,
            e.strerror,
        )
        return decode_all(paths, how, strict, name)
    if not tidy(folder, stem, cap):
        log.warning(
            "folder:%s: the decoded pictures exceed the decode cache's cap of %s (GANKIT_CACHE_MAX_GB); used for "
            "this run, not kept",
            name,
            human_size(cap),
        )
    return result


def _read_cached(stem: Path, shape: tuple[int, ...], strict: bool, name: str) -> Decoded | None:
    """The entry ``stem`` mapped, its use recorded; None when absent, when ``strict`` meets files it could not read,
    or when damaged (with a one-line warning naming it)."""
    about = stem.with_suffix(".json")
    if not about.exists():
        return None
    try:
        cached = _open_entry(about, stem.with_suffix(".npy"), shape, strict)
    except _Damaged as e:
        log.warning(
            "folder:%s: the decode cache entry %s is damaged (%s); decoding again", name, stem, e
        )
        return None
    if cached is not None:
        touch(about)
    return cached


def _open_entry(about: Path, pixels: Path, shape: tuple[int, ...], strict: bool) -> Decoded | None:
    """The checked entry of JSON ``about`` and ``.npy`` ``pixels`` of uint8 ``shape``; None under ``strict`` when it
    records files it could not read. Raises _Damaged."""
    ok, failures, size, chunk, digests = _fields(_unsealed(about), shape[0])
    if strict and failures:
        return None
    try:
        x = np.load(pixels, mmap_mode="c", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise _Damaged(f"its pixels are unreadable: {' '.join(str(e).split())}") from None
    if x.dtype != np.uint8 or x.shape != shape or not x.flags.c_contiguous:
        raise _Damaged(f"its pixels are {x.dtype} {x.shape}, not uint8 {shape}")
    if pixels.stat().st_size != size:
        raise _Damaged(f"its pixels are {pixels.stat().st_size:,} bytes, not {size:,}")
    bad = next(
        (i for i, (a, b) in enumerate(zip(_digests(pixels, chunk), digests)) if a != b), None
    )
    if bad is not None:
        raise _Damaged(
            f"bytes {bad * chunk:,} to {min(size, (bad + 1) * chunk):,} of its pixels fail their SHA-256"
        )
    return x[: int(ok.sum())], ok, failures


def _fields(about: dict, n_files: int) -> tuple[np.ndarray, list[tuple[str, str]], int, int, list]:
    """(bool [N] read, [(path, why)], bytes of the .npy, bytes per checksum, SHA-256 per chunk) from the JSON's
    fields, checked for type and consistency. Raises _Damaged."""
    try:
        ok, failures, size, chunk, digests = (
            about[k] for k in ("ok", "failures", "bytes", "chunk", "sha256")
        )
    except KeyError as e:
        raise _Damaged(f"its JSON has no {e}") from None
    if not (
        isinstance(ok, list) and len(ok) == n_files and all(v is True or v is False for v in ok)
    ):
        raise _Damaged(f"its list of files read is not {n_files} true/false")
    if not (
        isinstance(failures, list)
        and len(failures) == ok.count(False)
        and all(map(_pair, failures))
    ):
        raise _Damaged("its list of unreadable files is not one [path, why] per file not read")
    if not (type(size) is type(chunk) is int and chunk > 0 and isinstance(digests, list)):
        raise _Damaged("its size and checksums are malformed")
    if len(digests) != -(-size // chunk):
        raise _Damaged(f"it has {len(digests)} checksums for {size:,} bytes")
    return np.array(ok, dtype=bool), [tuple(f) for f in failures], size, chunk, digests


def _pair(f: object) -> bool:
    """Whether ``f`` is [path, why], both strings."""
    return isinstance(f, list) and len(f) == 2 and all(isinstance(s, str) for s in f)


def _decode_to_cache(
    paths: list[Path],
    how: ReadSettings,
    strict: bool,
    name: str,
    stem: Path,
    about: dict,
    decode_all: DecodeAll,
) -> Decoded:
    """Decode straight into a memory-mapped .npy beside ``stem`` (never the whole folder in memory), checksum it,
    put it in place, then write its JSON (``about`` and what was read): an interrupted decode leaves no entry."""
    pixels = stem.with_suffix(".npy")
    tmp = pixels.with_name(f".{pixels.name}.tmp-{os.getpid()}")
    shape = (len(paths), 1 if how.mode == "L" else 3, how.resolution, how.resolution)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
        ok, failures = decode_all(paths, how, strict, name, out)[1:]
        out.flush()
        del out
        # the map outlives the rename, and the entry's eviction
        x = np.load(tmp, mmap_mode="c", allow_pickle=False)
        size, digests = tmp.stat().st_size, _digests(tmp, CHUNK)
        about = {
            **about,
            "ok": ok.tolist(),
            "failures": failures,
            "bytes": size,
            "chunk": CHUNK,
            "sha256": digests,
        }
        os.replace(tmp, pixels)
    finally:
        tmp.unlink(missing_ok=True)
    write_atomic(stem.with_suffix(".json"), _sealed(about))
    return x[: int(ok.sum())], ok, failures


def _digests(path: Path, chunk: int) -> list[str]:
    """SHA-256 (hex) of each ``chunk`` bytes of ``path``, hashed in parallel through a read-only memory map: memory
    stays bounded (file pages, which the system reclaims) and every core hashes (hashlib releases the GIL)."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        view = memoryview(m)
        try:
            with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
                starts = range(0, len(m), chunk)
                return list(
                    pool.map(lambda a: hashlib.sha256(view[a : a + chunk]).hexdigest(), starts)
                )
        finally:
            view.release()


def _seal(about: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``about``."""
    return hashlib.sha256(
        json.dumps(about, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _sealed(about: dict) -> bytes:
    """The JSON of ``about`` and its seal (ASCII: any file name, UTF-8 or not, round-trips as an escape)."""
    return json.dumps(
        {**about, "seal": _seal(about)}, sort_keys=True, separators=(",", ":")
    ).encode()


def _unsealed(path: Path) -> dict:
    """The fields of the sealed JSON ``path``, the seal checked. Raises _Damaged."""
    try:
        about = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise _Damaged("its JSON is unreadable") from None
    if not isinstance(about, dict) or about.pop("seal", None) != _seal(about):
        raise _Damaged("its JSON does not match its seal")
    return about


def _slot(resolved: Path, how: ReadSettings) -> str:
    """32 hex of SHA-256 of the reader version, the read settings and the folder's ``resolved`` path (as bytes)."""
    digest = hashlib.sha256(json.dumps([READER_VERSION, dataclasses.astuple(how)]).encode())
    digest.update(b"\0" + os.fsencode(resolved))
    return digest.hexdigest()[:32]


def _cache_key(paths: list[Path], root: Path, slot: str) -> str:
    """32 hex of SHA-256 of the slot and of every file's path under ``root`` (as bytes), size and modification time."""
    digest = hashlib.sha256(slot.encode())
    for p in paths:
        st = p.stat()
        digest.update(
            b"%s\0%d\0%d\n" % (os.fsencode(os.path.relpath(p, root)), st.st_size, st.st_mtime_ns)
        )
    return digest.hexdigest()[:32]


def describe(how: ReadSettings) -> str:
    """The read settings in a few words, e.g. ``rgb 64×64 crop on #ffffff``."""
    channels = "gray" if how.mode == "L" else "rgb"
    return (
        f"{channels} {how.resolution}×{how.resolution} {how.fit} on #{bytes(how.background).hex()}"
    )


def entries() -> tuple[list[CacheEntry], int]:
    """The cache's complete entries, least recently used first, and the bytes of its other files (decodes under
    way or killed, entries of an older gankit)."""
    found, other = scan(cache_folder())
    result = []
    for e in found:
        try:
            about = _unsealed(e.path.with_suffix(".json"))
        except _Damaged:
            about = None
        result.append(CacheEntry(e.path, e.size, e.used, about))
    return result, sum(f.size for f in other)
