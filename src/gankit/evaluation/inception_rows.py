"""Rows of the Inception-network metrics: FID, KID, precision/recall, density/coverage (pool features) and the
Inception Score (class probabilities); and gankit's own reference statistics written as a published-stats .npz."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import MetricError
from .inputs import Reference, write_stats
from .options import FEATURE_CHUNK, EvalOptions, Samples, row

FID_ONLY = "{metric} needs the reference's features; a statistics file (mu, sigma) gives FID only"


def _features(extractor, images: torch.Tensor, what: str, opts: EvalOptions) -> torch.Tensor:
    out = []
    for start in range(0, len(images), FEATURE_CHUNK):
        out.append(extractor(images[start:start + FEATURE_CHUNK]))
        if opts.progress:
            opts.progress(what, min(start + FEATURE_CHUNK, len(images)), len(images))
    return torch.cat(out)


def reference_features(extractor, reference: Reference, opts: EvalOptions) -> torch.Tensor:
    """Pool features of the reference images, from the on-disk cache when the reference is a dataset split."""
    from ..metrics.cache import load_or_compute

    def compute() -> dict[str, torch.Tensor]:
        return {"features": _features(extractor, reference.images, f"Inception features ({reference.name})", opts)}

    if reference.key is None:
        return compute()["features"]
    key = {**reference.key, "weights": extractor.sha256}
    if opts.precision != "fp32":  # fp32 keys stay as they were, so earlier caches remain valid
        key["precision"] = opts.precision
    return load_or_compute("inception", key, compute)["features"]


def _extractor(opts: EvalOptions):
    from ..metrics.inception import InceptionFeatures

    return InceptionFeatures(opts.inception, device=opts.device, precision=opts.precision)


def inception_rows(samples: Samples, reference: Reference, wanted: list[str], opts: EvalOptions) -> list[dict]:
    from ..metrics.frechet import feature_stats, frechet_distance, kid
    from ..metrics.prdc import density_coverage, precision_recall

    if samples.kind != "image" or (reference.images is not None and reference.images.dtype != torch.uint8):
        raise MetricError("fid, kid, pr and dc need images (uint8) on both sides")
    if reference.stats is not None and wanted != ["fid"]:
        raise MetricError(FID_ONLY.format(metric=next(m for m in wanted if m != "fid")))
    extractor = _extractor(opts)
    started = time.monotonic()
    fake = _features(extractor, samples.x, "Inception features (samples)", opts)
    prec = {"inception_precision": opts.precision}
    if reference.stats is not None:
        _note_foreign_stats(reference, extractor.sha256, opts)
        ref = f"{reference.name} (statistics)"
        return [row("fid", frechet_distance(feature_stats(fake), reference.stats), len(fake), ref, started, **prec)]
    real = reference_features(extractor, reference, opts)
    rows, n, ref = [], len(fake), f"{reference.name} ({len(real)})"
    if "fid" in wanted:
        rows.append(row("fid", frechet_distance(feature_stats(fake), feature_stats(real)), n, ref, started, **prec))
    if "kid" in wanted:
        mean, std = kid(real, fake, subset_size=opts.kid_subset, seed=opts.seed)
        rows.append(row("kid", mean, n, ref, started, std, subset_size=opts.kid_subset, **prec))
    if "pr" in wanted:
        for name, value in precision_recall(real, fake, k=3).items():
            rows.append(row(name, value, n, ref, started, k=3, **prec))
    if "dc" in wanted:
        for name, value in density_coverage(real, fake, k=5).items():
            rows.append(row(name, value, n, ref, started, k=5, **prec))
    return rows


def _note_foreign_stats(reference: Reference, weights: str, opts: EvalOptions) -> None:
    """Published statistics made by another network or preprocessing are usable but not gankit's reference."""
    made_with = reference.meta.get("weights_sha256")
    if made_with is None:
        opts.notes.append(f"{reference.name}: statistics from another tool; FID is comparable to gankit's own only "
                          f"if that tool used the same Inception and preprocessing")
    elif made_with != weights or reference.meta.get("precision", "fp32") != opts.precision:
        opts.notes.append(f"{reference.name}: statistics were made with other Inception weights or precision "
                          f"({made_with[:12]}, {reference.meta.get('precision', 'fp32')})")


def inception_score_rows(samples: Samples, opts: EvalOptions) -> list[dict]:
    """IS (mean ± std over 10 splits) of the samples, with the classifier network ``opts.inception``."""
    from ..metrics.inception import default_weights_path
    from ..metrics.inception_score import SPLITS, InceptionClassifier, inception_score

    if samples.kind != "image":
        raise MetricError("the Inception Score needs images")
    started = time.monotonic()
    network = InceptionClassifier(opts.inception or default_weights_path(), device=opts.device)
    probs = _features(network, samples.x, "Inception class probabilities (samples)", opts)
    mean, std = inception_score(probs, SPLITS)
    return [row("is", mean, len(probs), "", started, std, splits=SPLITS, classes=probs.shape[1],
                network=str(network.path))]


def save_reference_stats(reference: Reference, out: str | Path, opts: EvalOptions) -> dict:
    """Inception statistics of the reference images written to ``out`` (``mu``, ``sigma`` and how they were made);
    returns what was recorded."""
    from ..metrics.frechet import feature_stats
    from ..metrics.inception import SIZE

    if reference.images is None:
        raise MetricError("--save-reference-stats needs reference images (DATASET:SPLIT or an images .npz)")
    extractor = _extractor(opts)
    stats = feature_stats(reference_features(extractor, reference, opts))
    meta = {"reference": reference.name, "weights": str(extractor.path), "weights_sha256": extractor.sha256,
            "precision": opts.precision, "features": "Inception-v3 (TF 2015-12-05) pool3, 2048-d",
            "preprocessing": f"uint8 -> float32, TF 1.x bilinear resize to {SIZE}x{SIZE}, (x - 128) / 128, gray "
                             f"tiled to 3 channels"}
    write_stats(out, stats, meta)
    return {**meta, "n": stats.n}
