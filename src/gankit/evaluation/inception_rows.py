"""Rows of the Inception-network metrics: FID, KID, precision/recall, density/coverage (pool features) and the
Inception Score (class probabilities); and gankit's own reference statistics written as a published-stats .npz."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import MetricError
from ..metrics.cache import load_or_compute
from ..metrics.frechet import feature_stats, frechet_distance, kid
from ..metrics.inception import SIZE, InceptionFeatures, default_weights_path, file_sha256
from ..metrics.inception_score import SPLITS, InceptionClassifier, inception_score
from ..metrics.prdc import density_coverage, precision_recall
from .inputs import Reference, write_stats
from .options import FEATURE_CHUNK, KID_SUBSET, EvalOptions, row

_RESIZE_WORDS = {"tf": "TF 1.x bilinear resize", "clean": "clean-fid bicubic resize (Pillow)"}
FID_ONLY = "{metric} needs the reference's features; a statistics file (mu, sigma) gives FID only"


def _features(extractor, images: torch.Tensor, what: str, opts: EvalOptions) -> torch.Tensor:
    out = []
    for start in range(0, len(images), FEATURE_CHUNK):
        out.append(extractor(images[start : start + FEATURE_CHUNK]))
        if opts.progress:
            opts.progress(what, min(start + FEATURE_CHUNK, len(images)), len(images))
    return torch.cat(out)


def reference_features(extractor, reference: Reference, opts: EvalOptions) -> torch.Tensor:
    """Pool features of the reference images, from the on-disk cache when the reference is a dataset split."""

    def compute() -> dict[str, torch.Tensor]:
        return {
            "features": _features(
                extractor, reference.images, f"Inception features ({reference.name})", opts
            )
        }

    if reference.key is None:
        return compute()["features"]
    key = {**reference.key, "weights": extractor.sha256}
    if opts.precision != "fp32":  # fp32 keys stay as they were, so earlier caches remain valid
        key["precision"] = opts.precision
    if opts.resize != "tf":  # likewise for the default resize
        key["resize"] = opts.resize
    return load_or_compute("inception", key, compute)["features"]


def _extractor(opts: EvalOptions):
    return InceptionFeatures(
        opts.inception, device=opts.device, precision=opts.precision, resize=opts.resize
    )


@dataclass
class InceptionPass:
    """Pool features of the samples (``fake`` [n, 2048]) and of the reference (``real`` [N, 2048], or None when
    the reference is published statistics), computed once per evaluation (``started``: when)."""

    fake: torch.Tensor
    real: torch.Tensor | None
    reference: Reference
    started: float
    precision: dict[str, str]
    weights_sha256: str


def inception_pass(job) -> InceptionPass:
    """The evaluation's one pass of the Inception network over samples and reference (gankit.evaluation.table.Job)."""

    def compute() -> InceptionPass:
        samples, reference, opts = job.samples, job.reference("fid"), job.opts
        extractor = _extractor(opts)
        started = time.monotonic()
        fake = _features(extractor, samples.x, "Inception features (samples)", opts)
        if reference.stats is not None:
            _note_foreign_stats(reference, extractor.sha256, opts)
            real = None
        else:
            real = reference_features(extractor, reference, opts)
        return InceptionPass(
            fake,
            real,
            reference,
            started,
            {"inception_precision": opts.precision},
            extractor.sha256,
        )

    return job.shared("inception", compute)


def _with_features(job) -> tuple[InceptionPass, str]:
    """The shared pass and the reference's name for rows of a metric that reads the reference's features."""
    features = inception_pass(job)
    return features, f"{features.reference.name} ({len(features.real)})"


def features_problem(job, metric: str, stats_ok: bool = False) -> str | None:
    """Why ``metric`` cannot compare with the job's reference in Inception features (checked before any sample is
    drawn): a reference of points, or published statistics where the metric needs features (``stats_ok``: FID)."""
    reference = job.reference(metric)
    if reference.stats is not None:
        return None if stats_ok else FID_ONLY.format(metric=metric)
    if reference.images.dtype != torch.uint8:
        return f"the reference {reference.name} holds points; {metric} compares images"
    return None


def kid_subset(opts: EvalOptions, n_fake: int, n_real: int) -> int:
    """KID's subset size: ``opts.kid_subset``, else the usual min(1000, generated, reference)."""
    return opts.kid_subset or min(KID_SUBSET, n_fake, n_real)


def kid_problem(job, n: int) -> str | None:
    """Why KID cannot run on ``n`` samples against the job's reference: features it cannot read, or a subset larger
    than either side."""
    why = features_problem(job, "kid")
    if why:
        return why
    n_real, asked = len(job.reference("kid").images), job.opts.kid_subset
    if asked is not None and asked > min(n, n_real):
        return (
            f"--kid-subset {asked} is larger than the {n} generated samples or the {n_real} reference "
            f"images; leave it out to use min({KID_SUBSET}, {n}, {n_real})"
        )
    if min(n, n_real) < 2:
        return f"needs 2 or more generated samples and reference images, got {n} and {n_real}"
    return None


def fid_rows(job) -> list[dict]:
    f = inception_pass(job)
    if f.real is None:
        value = frechet_distance(feature_stats(f.fake), f.reference.stats)
        return [
            row(
                "fid",
                value,
                len(f.fake),
                f"{f.reference.name} (statistics)",
                f.started,
                **f.precision,
            )
        ]
    ref = f"{f.reference.name} ({len(f.real)})"
    value = frechet_distance(feature_stats(f.fake), feature_stats(f.real))
    return [row("fid", value, len(f.fake), ref, f.started, **f.precision)]


def kid_rows(job) -> list[dict]:
    f, ref = _with_features(job)
    subset = kid_subset(job.opts, len(f.fake), len(f.real))
    mean, std = kid(f.real, f.fake, subset_size=subset, seed=job.opts.seed)
    return [row("kid", mean, len(f.fake), ref, f.started, std, subset_size=subset, **f.precision)]


def pr_rows(job) -> list[dict]:
    f, ref = _with_features(job)
    return [
        row(name, value, len(f.fake), ref, f.started, k=3, **f.precision)
        for name, value in precision_recall(f.real, f.fake, k=3).items()
    ]


def dc_rows(job) -> list[dict]:
    f, ref = _with_features(job)
    return [
        row(name, value, len(f.fake), ref, f.started, k=5, **f.precision)
        for name, value in density_coverage(f.real, f.fake, k=5).items()
    ]


def kid_protocol(job) -> dict:
    """KID's protocol fields: the features' and the subset size it used."""
    f = inception_pass(job)
    return inception_protocol(job, subset_size=kid_subset(job.opts, len(f.fake), len(f.real)))


def inception_protocol(job, **settings) -> dict:
    """The protocol fields of an Inception-feature metric: the network and how images reach it, and ``settings``."""
    opts = job.opts
    features = {
        "network": "inception-v3 (TF 2015-12-05) pool3",
        "weights_sha256": inception_pass(job).weights_sha256,
        "dtype": opts.precision,
        "device": torch.device(opts.device).type,
        "resize": opts.resize,
    }
    return {"features": features, **settings}


def _note_foreign_stats(reference: Reference, weights: str, opts: EvalOptions) -> None:
    """Published statistics made by another network or preprocessing are usable but not gankit's reference."""
    made_with = reference.meta.get("weights_sha256")
    if made_with is None:
        opts.notes.append(
            f"{reference.name}: statistics from another tool; FID is comparable to gankit's own only "
            f"if that tool used the same Inception and preprocessing"
        )
    elif made_with != weights or reference.meta.get("precision", "fp32") != opts.precision:
        opts.notes.append(
            f"{reference.name}: statistics were made with other Inception weights or precision "
            f"({made_with[:12]}, {reference.meta.get('precision', 'fp32')})"
        )


def inception_score_rows(job) -> list[dict]:
    """IS (mean ± std over 10 splits) of the samples, with the classifier network ``opts.inception``."""
    samples, opts = job.samples, job.opts

    if samples.kind != "image":
        raise MetricError("the Inception Score needs images")
    started = time.monotonic()
    network = InceptionClassifier(opts.inception or default_weights_path(), device=opts.device)
    job.memo["is_network"] = str(network.path)
    probs = _features(network, samples.x, "Inception class probabilities (samples)", opts)
    mean, std = inception_score(probs, SPLITS)
    return [
        row(
            "is",
            mean,
            len(probs),
            "",
            started,
            std,
            splits=SPLITS,
            classes=probs.shape[1],
            network=str(network.path),
        )
    ]


def inception_score_protocol(job) -> dict:
    network = {"weights_sha256": file_sha256(job.memo["is_network"]), "resize": "tf"}
    return {"features": network, "splits": SPLITS}


def save_reference_stats(reference: Reference, out: str | Path, opts: EvalOptions) -> dict:
    """Inception statistics of the reference images written to ``out`` (``mu``, ``sigma`` and how they were made);
    returns what was recorded."""
    if reference.images is None:
        raise MetricError(
            "--save-reference-stats needs reference images (DATASET:SPLIT or an images .npz)"
        )
    extractor = _extractor(opts)
    stats = feature_stats(reference_features(extractor, reference, opts))
    meta = {
        "reference": reference.name,
        "weights": str(extractor.path),
        "weights_sha256": extractor.sha256,
        "precision": opts.precision,
        "features": "Inception-v3 (TF 2015-12-05) pool3, 2048-d",
        "resize": opts.resize,
        "preprocessing": f"uint8 -> float32, {_RESIZE_WORDS[opts.resize]} to {SIZE}x{SIZE}, (x - 128) / 128, "
        f"gray tiled to 3 channels",
    }
    write_stats(out, stats, meta)
    return {**meta, "n": stats.n}
