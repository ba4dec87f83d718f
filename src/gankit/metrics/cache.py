"""On-disk cache of metric statistics (e.g. real-data Inception mean/covariance for FID; docs/design.md, 'Metrics').

A cached entry is one ``.safetensors`` file under ``cache_dir()/stats``, named by ``kind`` and a hash of its key.
The key itself is stored in the file's safetensors metadata (``{"kind": kind, "key": <canonical JSON of key>}``)
and compared on every load, so a file is used only for exactly the key that produced it. Files are written
atomically; an unreadable or mismatching file is recomputed and overwritten, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save as save_safetensors
from torch import Tensor

from gankit.errors import MetricError
from gankit.fileio import cache_dir, write_atomic

log = logging.getLogger(__name__)

_KIND = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _canonical(key: dict[str, object]) -> str:
    """Canonical JSON of ``key``: sorted items, compact; non-JSON values (paths, devices) by ``str``."""
    return json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)


def stats_path(kind: str, **key: object) -> Path:
    """``cache_dir()/stats/{kind}-{first 16 hex of sha256(sorted key items)}.safetensors``."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise MetricError(f"cache kind must match [A-Za-z0-9][A-Za-z0-9_.-]*, got {kind!r}")
    digest = hashlib.sha256(_canonical(key).encode("utf-8")).hexdigest()[:16]
    return cache_dir() / "stats" / f"{kind}-{digest}.safetensors"


def _read(path: Path, kind: str, canonical: str) -> dict[str, Tensor] | None:
    """The tensors in ``path`` if it is a readable entry for exactly (kind, key); else None (logged)."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            if meta.get("kind") != kind or meta.get("key") != canonical:
                log.warning("cache file %s holds another key; recomputing", path)
                return None
            return {name: f.get_tensor(name) for name in f.keys()}
    except Exception as exc:  # any unreadable file is recomputed, whatever the reader raised
        log.warning(
            "cache file %s is unreadable (%s: %s); recomputing", path, type(exc).__name__, exc
        )
        return None


def load_or_compute(
    kind: str, key: dict[str, object], compute: Callable[[], dict[str, Tensor]]
) -> dict[str, Tensor]:
    """Tensors cached under (kind, key), computing and storing them with ``compute()`` when absent or bad.

    ``compute`` returns a dict of name → Tensor (any device/dtype); the result is returned as contiguous CPU
    tensors, identical on the first (computed) and later (loaded) calls. A cache that cannot be written is
    logged and skipped.
    """
    if not isinstance(key, dict):
        raise MetricError(f"cache key must be a dict, got {type(key).__name__}")
    path = stats_path(kind, **key)
    canonical = _canonical(key)
    if path.is_file():
        cached = _read(path, kind, canonical)
        if cached is not None:
            log.debug("loaded %s statistics from %s", kind, path)
            return cached
    result = compute()
    if (
        not isinstance(result, dict)
        or not result
        or not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in result.items())
    ):
        raise MetricError(
            f"cache compute for {kind!r} must return a non-empty dict of str -> Tensor"
        )
    tensors = {
        name: value.detach().to("cpu").clone().contiguous() for name, value in result.items()
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, save_safetensors(tensors, metadata={"kind": kind, "key": canonical}))
    except OSError as exc:
        log.warning("could not write cache file %s (%s); continuing without cache", path, exc)
    return tensors
