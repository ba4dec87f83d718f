"""Fetching official dataset files, checked by SHA-256 (urllib only; nothing is printed, progress goes to logging).

A download streams into a temporary file in the destination folder, is hashed on the way, fsynced, and only then
moved into place with :func:`os.replace`; a file with the wrong hash is deleted, so a half-written or tampered
file never sits under the real name.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DatasetError
from ..fileio import fsync_dir

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0  # per blocking socket operation, not for the whole file
_CHUNK = 1 << 20


def sha256_file(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return str(e.reason)
    return str(e) or type(e).__name__


def _stream(url: str, out, timeout: float) -> tuple[str, int]:
    digest = hashlib.sha256()
    n = 0
    request = urllib.request.Request(url, headers={"User-Agent": "gankit"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        expected = response.headers.get("Content-Length")
        for chunk in iter(lambda: response.read(_CHUNK), b""):
            digest.update(chunk)
            out.write(chunk)
            n += len(chunk)
    if expected is not None and expected.isdigit() and int(expected) != n:
        raise OSError(f"connection closed after {n:,} of {int(expected):,} bytes")
    return digest.hexdigest(), n


def fetch(url: str, dest: Path | str, sha256: str, *, timeout: float = TIMEOUT_S) -> Path:
    """Download ``url`` to ``dest`` if its SHA-256 is ``sha256``; returns ``dest``.

    Raises :class:`DatasetError` with a one-line message for network errors, timeouts and hash mismatches;
    in every failure no file is left behind (neither ``dest`` nor the temporary file).
    """
    dest = Path(dest)
    if not url.lower().startswith(("http://", "https://")):
        raise DatasetError(
            f"refusing to download {url!r}: only http:// and https:// URLs are fetched"
        )
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    except OSError as e:
        raise DatasetError(f"cannot write to {dest.parent}: {_reason(e)}") from None
    tmp = Path(tmp_name)
    try:
        log.info("downloading %s to %s", url, dest)
        try:
            with os.fdopen(fd, "wb") as out:
                got, n = _stream(url, out, timeout)
                out.flush()
                os.fsync(out.fileno())
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            OSError,
            ValueError,
        ) as e:  # timeouts, resets
            raise DatasetError(f"could not download {url}: {_reason(e)}") from None
        if got != sha256.lower():
            raise DatasetError(
                f"{dest.name} from {url} failed its SHA-256 check: expected {sha256.lower()}, "
                f"got {got}; the download was deleted"
            )
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
        log.info("downloaded %s (%s bytes, SHA-256 ok)", dest, f"{n:,}")
        return dest
    finally:
        tmp.unlink(missing_ok=True)
