"""Rows of the metrics that need no Inception network: the paper's Parzen window, the digit/clothing classifier's
scores, Stacked MNIST's 1,000 modes, and the toy distributions' modes and JSD."""

from __future__ import annotations

import time

import torch

from ..config import DataConfig
from ..data import Dataset
from ..data.stacked import DIGITS_OF, digit_dataset
from ..data.toy import mode_mixture
from ..metrics.classifier import (
    classifier_features,
    classifier_scores,
    load_or_train_classifier,
    stacked_modes,
    weights_sha256,
)
from ..metrics.frechet import feature_stats, frechet_distance
from ..metrics.modes import jsd_to_gaussian, mode_coverage
from ..metrics.parzen import parzen_protocol
from .options import CLASSIFIER_DATASETS, PARZEN_VALIDATION, Samples, row


def _flat_unit(x: torch.Tensor) -> torch.Tensor:
    return (x.double() / 255.0 if x.dtype == torch.uint8 else x.double()).reshape(len(x), -1)


def parzen_rows(job) -> list[dict]:
    """The paper's Parzen window estimate (σ chosen on validation, scored on test), of the samples and, for scale,
    of as many training images; skipped with a note when not asked for and the reference lacks those splits."""
    samples, opts, dataset = job.samples, job.opts, job.reference("parzen").dataset
    if not _parzen_splits(dataset):
        opts.notes.append(
            "skipped parzen: the reference has no validation and test splits to select σ and score"
        )
        return []
    x_val = _flat_unit(dataset.split("validation").x[:PARZEN_VALIDATION])
    x_test = _flat_unit(dataset.split("test").x)
    device = torch.device(opts.device)
    rows = []
    centres_sets = [
        ("parzen", samples.unit if samples.unit is not None else samples.x),
        ("parzen_real_train", dataset.train.x[: len(samples.x)]),
    ]
    for metric, centres in centres_sets:
        started = time.monotonic()
        r = parzen_protocol(
            _flat_unit(centres).to(device),
            x_val.to(device),
            x_test.to(device),
            sigma=opts.parzen_sigma,
        )
        rows.append(
            row(
                metric,
                r.mean,
                len(centres),
                f"{dataset.name}:test",
                started,
                r.sem,
                sigma=r.sigma,
                centres="generated" if metric == "parzen" else "training images",
            )
        )
    return rows


def _parzen_splits(dataset: Dataset | None) -> bool:
    return dataset is not None and {"validation", "test"} <= set(dataset.splits)


def parzen_problem(job, n: int) -> str | None:
    """Parzen asked for by name needs a reference with validation and test splits (unasked, it is skipped)."""
    if job.opts.metrics and not _parzen_splits(job.reference("parzen").dataset):
        return "needs a reference dataset with validation and test splits (e.g. mnist:test)"
    return None


def classifier_problem(job, n: int) -> str | None:
    """The domain classifier reads only the datasets it was made for."""
    reference = job.reference("classifier")
    if reference.dataset is None or reference.dataset.name not in CLASSIFIER_DATASETS:
        return (
            f"the domain classifier reads {', '.join(CLASSIFIER_DATASETS)}; the reference is "
            f"{reference.name}"
        )
    return None


def _classifier(dataset: Dataset):
    """The cached small CNN of ``dataset`` (trained on its train split on first use) and its test accuracy."""
    train, test = dataset.train, dataset.split("test")
    return load_or_train_classifier(dataset.name, train.x, train.y, test.x, test.y)


def classifier_rows(job) -> list[dict]:
    """The domain classifier's class histogram (KL to the reference's, classes covered) and its Fréchet distance."""
    samples, reference = job.samples, job.reference("classifier")
    started = time.monotonic()
    model, accuracy = _classifier(reference.dataset)
    job.memo["classifier"] = (reference.dataset.name, model)
    scores = classifier_scores(model, samples.x)
    n, extra, name = len(samples.x), {"classifier_test_accuracy": accuracy}, reference.name
    fid = frechet_distance(
        feature_stats(classifier_features(model, samples.x)),
        feature_stats(classifier_features(model, reference.images)),
    )
    return [
        row(
            "class_kl", scores["class_kl"], n, name, started, histogram=scores["histogram"], **extra
        ),
        row("classes_covered", scores["classes_covered"], n, name, started, **extra),
        row("fid_classifier", fid, n, name, started, **extra),
    ]


def classifier_protocol(job) -> dict:
    """The domain classifier that read the samples: its dataset and a SHA-256 of its weights."""
    dataset, model = job.memo["classifier"]
    network = {
        "network": f"gankit classifier of {dataset}",
        "weights_sha256": weights_sha256(model),
    }
    return {"features": network}


def modes_rows(job) -> list[dict]:
    """Modes captured: of a toy mixture's (points) or of Stacked MNIST's 1,000 (images)."""
    if job.samples.kind == "points":
        return _point_modes(job.samples, job.data_cfg)
    return _stacked_modes(job.samples, job.data_name, job.data_cfg)


def _stacked_modes(samples: Samples, stacked_name: str, data_cfg: DataConfig | None) -> list[dict]:
    """Modes captured (of 1,000) and the KL of the mode histogram to uniform, read by the digits' classifier."""
    started = time.monotonic()
    cfg = (
        data_cfg
        if data_cfg is not None and data_cfg.name == stacked_name
        else DataConfig(name=stacked_name)
    )
    digits = digit_dataset(cfg, stacked_name)
    model, accuracy = _classifier(digits)
    scores = stacked_modes(model, samples.x)
    n, extra = (
        len(samples.x),
        {"of": 1000, "classifier": DIGITS_OF[stacked_name], "classifier_test_accuracy": accuracy},
    )
    ref = f"{stacked_name} (of 1,000 modes)"
    return [
        row("modes", scores["classes_covered"], n, ref, started, **extra),
        row("modes_kl", scores["class_kl"], n, ref, started, **extra),
    ]


def _point_modes(samples: Samples, data_cfg: DataConfig) -> list[dict]:
    started, n = time.monotonic(), len(samples.x)
    modes, std = mode_mixture(data_cfg.name)
    return [
        row(f"modes_{key}" if key != "modes" else "modes", value, n, data_cfg.name, started)
        for key, value in mode_coverage(samples.x, modes, std).items()
    ]


def jsd_rows(job) -> list[dict]:
    """JSD between the 1-D samples and the data's Gaussian, N(data.mean, data.std²)."""
    started, data_cfg = time.monotonic(), job.data_cfg
    value = jsd_to_gaussian(job.samples.x.reshape(-1), data_cfg.mean, data_cfg.std)
    return [row("jsd", value, len(job.samples.x), f"N({data_cfg.mean}, {data_cfg.std}²)", started)]
