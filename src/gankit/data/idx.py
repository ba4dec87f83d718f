"""Reader for the IDX format of LeCun's MNIST files (and Fashion-MNIST, which reuses it).

Layout: a 4-byte magic ``0x00 0x00 <dtype> <ndim>``, then ``ndim`` big-endian uint32 sizes, then the data in
row-major order. Only unsigned bytes (dtype ``0x08``) are accepted: images have magic ``0x00000803``
(``[N, H, W]``) and labels ``0x00000801`` (``[N]``). Files may be raw or gzip-compressed (``.gz``).

Every size is checked against the bytes the file really holds before anything the size of the data is
allocated, so a damaged or hostile header cannot make the reader reserve more memory than the file contains.
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import DatasetError

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
UBYTE = 0x08
_CHUNK = 1 << 20


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")  # type: ignore[return-value]


def _read_exact(f: BinaryIO, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DatasetError(
            f"{path}: truncated IDX file: {what} needs {n} bytes, only {len(data)} present"
        )
    return data


def read_header(path: Path, magic: int) -> tuple[int, ...]:
    """The sizes declared in the header of ``path`` (e.g. ``(60000, 28, 28)``), checking its magic; reads 16 bytes."""
    path = Path(path)
    try:
        with _open(path) as f:
            return _header(f, path, magic)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read IDX header: {e}") from None


def _header(f: BinaryIO, path: Path, magic: int) -> tuple[int, ...]:
    head = _read_exact(f, 4, path, "the magic number")
    got = int.from_bytes(head, "big")
    kind = "images" if magic == IMAGES_MAGIC else "labels"
    if head[0] != 0 or head[1] != 0:
        raise DatasetError(
            f"{path}: not an IDX file (magic 0x{got:08x}, expected 0x{magic:08x} for {kind})"
        )
    if head[2] != UBYTE:
        raise DatasetError(
            f"{path}: IDX element type 0x{head[2]:02x} is not supported (only unsigned byte 0x08)"
        )
    ndim = magic & 0xFF
    if head[3] != ndim:
        raise DatasetError(
            f"{path}: IDX file has {head[3]} dimensions, expected {ndim} for {kind} "
            f"(magic 0x{got:08x}, expected 0x{magic:08x})"
        )
    dims = _read_exact(f, 4 * ndim, path, f"the {ndim} dimension sizes")
    return tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))


def _read_body_raw(f: BinaryIO, path: Path, count: int, header_bytes: int) -> np.ndarray:
    size = path.stat().st_size
    if size != header_bytes + count:
        problem = "truncated" if size < header_bytes + count else "has trailing bytes"
        raise DatasetError(
            f"{path}: IDX file {problem}: header declares {count:,} data bytes, "
            f"the file holds {max(size - header_bytes, 0):,}"
        )
    out = np.empty(count, dtype=np.uint8)  # safe: the file holds exactly this many bytes
    if f.readinto(memoryview(out)) != count:  # type: ignore[attr-defined]
        raise DatasetError(f"{path}: IDX file shrank while being read")
    return out


def _read_body_gz(f: BinaryIO, path: Path, count: int) -> np.ndarray:
    # The uncompressed length is unknown up front: grow with the data actually decompressed, never by the header.
    buf = bytearray()
    while len(buf) < count:
        chunk = f.read(min(_CHUNK, count - len(buf)))
        if not chunk:
            raise DatasetError(
                f"{path}: IDX file truncated: header declares {count:,} data bytes, "
                f"the file holds {len(buf):,}"
            )
        buf += chunk
    if f.read(1):
        raise DatasetError(
            f"{path}: IDX file has trailing bytes after the {count:,} data bytes its header declares"
        )
    return np.frombuffer(buf, dtype=np.uint8)


def read_idx(path: Path | str, magic: int) -> np.ndarray:
    """Read a whole IDX file whose magic must be ``magic``: uint8 array shaped as its header says.

    Raises :class:`DatasetError` (one line, naming the file) for a wrong magic, element type or dimension count,
    and for a file shorter or longer than its header declares.
    """
    path = Path(path)
    try:
        with _open(path) as f:
            dims = _header(f, path, magic)
            count = int(np.prod(dims, dtype=object))
            if (
                math.prod(d for d in dims if d) > np.iinfo(np.intp).max
            ):  # numpy refuses such a shape even if empty
                raise DatasetError(
                    f"{path}: IDX header sizes {list(dims)} are too large for an array"
                )
            header_bytes = 4 + 4 * len(dims)
            if path.suffix == ".gz":
                flat = _read_body_gz(f, path, count)
            else:
                flat = _read_body_raw(f, path, count, header_bytes)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{path}: cannot read IDX file: {e}") from None
    return flat.reshape(dims)


def read_images(path: Path | str) -> np.ndarray:
    """uint8 [N, H, W], values 0..255."""
    return read_idx(path, IMAGES_MAGIC)


def read_labels(path: Path | str) -> np.ndarray:
    """uint8 [N]."""
    return read_idx(path, LABELS_MAGIC)
