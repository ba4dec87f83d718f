"""Where samples and references come from: a run's checkpoint, an ``.npz`` of samples, a registered dataset split,
or an ``.npz`` of published Inception statistics (``mu``, ``sigma``, the format pytorch-fid and others distribute)."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import DataConfig
from ..data import Dataset, load_dataset, to_uint8
from ..errors import MetricError, first_line
from ..fileio import npz_bytes, write_atomic
from ..metrics.frechet import FeatureStats
from ..train.restore import load_generator_and_meta, sample
from .options import Samples

STATS_KEYS = ("mu", "sigma")
STATS_META_KEY = (
    "gankit"  # gankit's own statistics files also record how they were made (a JSON string)
)


def _open_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, loaded without pickle; one-line errors for unreadable files."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.keys()}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise MetricError(f"cannot read {path}: {first_line(e)}") from None


def read_npz(path: str | Path) -> torch.Tensor:
    """The array ``x`` (or the only array) of an .npz, loaded without pickle."""
    arrays = _open_npz(path)
    if "x" not in arrays and len(arrays) != 1:
        raise MetricError(
            f"{path}: expected an array named 'x' (or a single array), found {', '.join(arrays)}"
        )
    array = arrays["x" if "x" in arrays else next(iter(arrays))]
    if array.dtype == np.uint8 and array.ndim == 3:
        array = array[:, None]
    if not (
        (array.dtype == np.uint8 and array.ndim == 4 and array.shape[1] in (1, 3))
        or (np.issubdtype(array.dtype, np.floating) and array.ndim == 2)
    ):
        raise MetricError(
            f"{path}: expected uint8 images [N, C, H, W] (C 1 or 3) or float points [N, d], "
            f"got {array.dtype} {list(array.shape)}"
        )
    if array.dtype != np.uint8 and not np.isfinite(array).all():
        raise MetricError(f"{path}: contains NaN or Inf")
    return (
        torch.from_numpy(np.ascontiguousarray(array)).float()
        if array.dtype != np.uint8
        else torch.from_numpy(array)
    )


def is_stats_file(path: str | Path) -> bool:
    """Whether an .npz holds Inception statistics (arrays ``mu`` and ``sigma``) rather than samples."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return set(STATS_KEYS) <= set(z.keys())
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def read_stats(path: str | Path, dim: int) -> tuple[FeatureStats, dict[str, Any]]:
    """``mu`` [dim] and ``sigma`` [dim, dim] (any float dtype, finite) → float64 :class:`FeatureStats` (``n`` is
    0 when the file does not say), and what a gankit file records about how it was made ({} otherwise)."""
    arrays = _open_npz(path)
    mu, sigma = (arrays.get(k) for k in STATS_KEYS)
    if mu is None or sigma is None:
        raise MetricError(
            f"{path}: a statistics file needs arrays 'mu' and 'sigma', found {', '.join(arrays)}"
        )
    if mu.shape != (dim,) or sigma.shape != (dim, dim):
        raise MetricError(
            f"{path}: expected mu [{dim}] and sigma [{dim}, {dim}] (Inception pool features), got "
            f"mu {list(mu.shape)} and sigma {list(sigma.shape)}"
        )
    if not (np.issubdtype(mu.dtype, np.floating) and np.issubdtype(sigma.dtype, np.floating)):
        raise MetricError(
            f"{path}: mu and sigma must be floating point, got {mu.dtype} and {sigma.dtype}"
        )
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise MetricError(f"{path}: mu or sigma contains NaN or Inf")
    meta = json.loads(str(arrays[STATS_META_KEY])) if STATS_META_KEY in arrays else {}
    stats = FeatureStats(
        mu=torch.from_numpy(mu.astype(np.float64)),
        sigma=torch.from_numpy(sigma.astype(np.float64)),
        n=int(meta.get("n", 0)),
    )
    return stats, meta


def write_stats(path: str | Path, stats: FeatureStats, meta: dict[str, Any]) -> None:
    """``mu`` and ``sigma`` (float64) as an .npz readable by any tool that takes published statistics, with
    ``meta`` (how they were made) as a JSON string under ``gankit``; written atomically."""
    arrays = {
        "mu": stats.mu.cpu().numpy(),
        "sigma": stats.sigma.cpu().numpy(),
        STATS_META_KEY: np.array(json.dumps({**meta, "n": stats.n}, sort_keys=True)),
    }
    write_atomic(Path(path), npz_bytes(arrays))


def samples_from_run(run_dir: Path, checkpoint: str, n: int, seed: int) -> Samples:
    """``n`` samples (noise seed ``seed``) of the run's G at ``checkpoint`` (its EMA copy when it has one)."""
    G, meta = load_generator_and_meta(run_dir, checkpoint)
    return generator_samples(G, meta["kind"], n, seed, "ema" if meta["ema"] else "raw")


def generator_samples(G, kind: str, n: int, seed: int, generator: str) -> Samples:
    """``n`` samples of ``G`` (a gankit.models.Generator, on any device; noise seed ``seed``) as evaluation takes
    them: uint8 images with their [0, 1] values, or float points; ``generator``: "ema" or "raw"."""
    with torch.no_grad():
        raw = sample(G, n, seed).cpu()
    if kind == "image":
        unit = raw if G.value_range == "unit" else (raw + 1) / 2
        return Samples(to_uint8(raw, G.value_range), kind, unit.clamp(0, 1), generator)
    return Samples(raw.float(), kind, generator=generator)


@dataclass
class Reference:
    """What samples are compared with: a dataset split, an images .npz, or published statistics (``stats``)."""

    name: str  # how rows name it
    dataset: Dataset | None = None
    split: str = ""
    images: torch.Tensor | None = None  # uint8 [N, C, H, W]
    stats: FeatureStats | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # what identifies the images' features in the on-disk cache (None: not cached)
    key: dict[str, Any] | None = None


def resolve_reference(
    spec: str, data_cfg: DataConfig | None, n_ref: int | None, dim: int
) -> Reference:
    """``DATASET:SPLIT`` (a registry name; the run's data options apply when it is the run's dataset; an empty SPLIT:
    ``test`` where the source has one, else ``train``, the few-shot convention for a folder), an images
    ``.npz`` or a statistics ``.npz``; images capped to the first ``n_ref``."""
    if spec.endswith(".npz"):
        if is_stats_file(spec):
            stats, meta = read_stats(spec, dim)
            return Reference(spec, stats=stats, meta=meta)
        return Reference(spec, images=read_npz(spec)[:n_ref])
    name, _, split = spec.rpartition(":")
    if not name:
        raise MetricError(
            f"{spec!r} is neither DATASET:SPLIT (e.g. fashion-mnist:test) nor a .npz file"
        )
    cfg = data_cfg if data_cfg is not None and data_cfg.name == name else DataConfig(name=name)
    dataset = load_dataset(cfg)
    # a set without a test split: itself
    split = split or ("test" if "test" in dataset.splits else "train")
    images = dataset.split(split).x[:n_ref]
    key = {"dataset": dataset.name, "split": split, "count": len(images), "source": dataset.source}
    return Reference(f"{dataset.name}:{split}", dataset, split, images, key=key)
