"""Atomic file writes, used by every module that writes into a run folder (imports nothing of gankit)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder, fsync, then ``os.replace``; on failure
    ``path`` is untouched and the OSError names it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (
        OSError
    ) as e:  # name the file meant, not the temporary one (a full disk names no file at all)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse directory fsync)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def cache_dir() -> Path:
    """The user cache: ``$GANKIT_CACHE``, else ``$XDG_CACHE_HOME/gankit``, else ``~/.cache/gankit``."""
    if os.environ.get("GANKIT_CACHE"):
        return Path(os.environ["GANKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gankit"


def npz_bytes(arrays: dict) -> bytes:
    """A .npz of ``arrays`` (name → numpy array), without pickles and byte-for-byte reproducible (fixed zip
    timestamps, unlike numpy.savez): the one .npz writer of gankit."""
    import io
    import zipfile

    import numpy as np

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            payload = io.BytesIO()
            array = np.asarray(array)  # (ascontiguousarray would turn a 0-d array into 1-d)
            np.lib.format.write_array(
                payload,
                array if array.flags.c_contiguous else array.copy(order="C"),
                allow_pickle=False,
            )
            zf.writestr(
                zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), payload.getvalue()
            )
    return out.getvalue()
