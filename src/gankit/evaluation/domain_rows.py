"""Rows of the metrics that need no Inception network: the paper's Parzen window, the digit/clothing classifier's
scores, Stacked MNIST's 1,000 modes, and the toy distributions' modes and JSD."""

from __future__ import annotations

import time

import torch

from ..config import DataConfig
from ..data import Dataset
from ..errors import MetricError
from .inputs import Reference
from .options import CLASSIFIER_DATASETS, PARZEN_VALIDATION, EvalOptions, Samples, row


def _flat_unit(x: torch.Tensor) -> torch.Tensor:
    return (x.double() / 255.0 if x.dtype == torch.uint8 else x.double()).reshape(len(x), -1)


def parzen_rows(samples: Samples, reference: Reference, opts: EvalOptions) -> list[dict]:
    from ..metrics.parzen import parzen_protocol

    dataset = reference.dataset
    if dataset is None or "validation" not in dataset.splits or "test" not in dataset.splits:
        raise MetricError("parzen needs a reference dataset with validation and test splits (e.g. mnist:test)")
    x_val = _flat_unit(dataset.split("validation").x[:PARZEN_VALIDATION])
    x_test = _flat_unit(dataset.split("test").x)
    device = torch.device(opts.device)
    rows = []
    centres_sets = [("parzen", samples.unit if samples.unit is not None else samples.x),
                    ("parzen_real_train", dataset.train.x[:len(samples.x)])]
    for metric, centres in centres_sets:
        started = time.monotonic()
        r = parzen_protocol(_flat_unit(centres).to(device), x_val.to(device), x_test.to(device),
                            sigma=opts.parzen_sigma)
        rows.append(row(metric, r.mean, len(centres), f"{dataset.name}:test", started, r.sem, sigma=r.sigma,
                        centres="generated" if metric == "parzen" else "training images"))
    return rows


def _classifier(dataset: Dataset):
    """The cached small CNN of ``dataset`` (trained on its train split on first use) and its test accuracy."""
    from ..metrics.classifier import load_or_train_classifier

    train, test = dataset.train, dataset.split("test")
    return load_or_train_classifier(dataset.name, train.x, train.y, test.x, test.y)


def classifier_rows(samples: Samples, reference: Reference) -> list[dict]:
    from ..metrics.classifier import classifier_features, classifier_scores
    from ..metrics.frechet import feature_stats, frechet_distance

    if reference.dataset is None or reference.dataset.name not in CLASSIFIER_DATASETS:
        raise MetricError(f"classifier scores need a reference dataset among {', '.join(CLASSIFIER_DATASETS)}")
    started = time.monotonic()
    model, accuracy = _classifier(reference.dataset)
    scores = classifier_scores(model, samples.x)
    n, extra, name = len(samples.x), {"classifier_test_accuracy": accuracy}, reference.name
    fid = frechet_distance(feature_stats(classifier_features(model, samples.x)),
                           feature_stats(classifier_features(model, reference.images)))
    return [row("class_kl", scores["class_kl"], n, name, started, histogram=scores["histogram"], **extra),
            row("classes_covered", scores["classes_covered"], n, name, started, **extra),
            row("fid_classifier", fid, n, name, started, **extra)]


def stacked_rows(samples: Samples, stacked_name: str, data_cfg: DataConfig | None) -> list[dict]:
    """Modes captured (of 1,000) and the KL of the mode histogram to uniform, read by the digits' classifier."""
    from ..data.stacked import DIGITS_OF, digit_dataset
    from ..metrics.classifier import stacked_modes

    started = time.monotonic()
    cfg = data_cfg if data_cfg is not None and data_cfg.name == stacked_name else DataConfig(name=stacked_name)
    digits = digit_dataset(cfg, stacked_name)
    model, accuracy = _classifier(digits)
    scores = stacked_modes(model, samples.x)
    n, extra = len(samples.x), {"of": 1000, "classifier": DIGITS_OF[stacked_name], "classifier_test_accuracy": accuracy}
    ref = f"{stacked_name} (of 1,000 modes)"
    return [row("modes", scores["classes_covered"], n, ref, started, **extra),
            row("modes_kl", scores["class_kl"], n, ref, started, **extra)]


def point_rows(samples: Samples, data_cfg: DataConfig, wanted: list[str]) -> list[dict]:
    from ..data.toy import mode_mixture
    from ..metrics.modes import jsd_to_gaussian, mode_coverage

    rows, started, n = [], time.monotonic(), len(samples.x)
    if "modes" in wanted:
        modes, std = mode_mixture(data_cfg.name)
        for key, value in mode_coverage(samples.x, modes, std).items():
            rows.append(row(f"modes_{key}" if key != "modes" else "modes", value, n, data_cfg.name, started))
    if "jsd" in wanted:
        value = jsd_to_gaussian(samples.x.reshape(-1), data_cfg.mean, data_cfg.std)
        rows.append(row("jsd", value, n, f"N({data_cfg.mean}, {data_cfg.std}²)", started))
    return rows
