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
from ..metrics.inception import FEATURE_DIM
from ..train.checkpoint import load as load_checkpoint
from ..train.checkpoint import step_name
from .builtin_metrics import stacked
from .inception_rows import save_reference_stats
from .inputs import read_npz, resolve_reference, samples_from_run
from .options import POINT_SOURCES, EvalOptions, Samples
from .protocol import describe, protocol_stamp
from .settings import out_problem, plan
from .table import Job, imported_names, metric_table


def _applicable(kind: str, data_name: str) -> list[str]:
    return [name for name, m in metric_table().items() if m.applies(kind, data_name)]


def choose_metrics(kind: str, data_name: str, opts: EvalOptions) -> list[str]:
    """Requested metrics, validated, in the table's order; or the table's defaults for this kind of data (those
    that cannot run here are skipped with a note)."""
    table = metric_table()
    if opts.metrics:
        opts.metrics = imported_names(opts.metrics)
        table = metric_table()
        applicable = _applicable(kind, data_name)
        wrong = [m for m in opts.metrics if m not in applicable]
        if wrong:
            raise MetricError(
                f"metric {wrong[0]!r} does not apply to {kind} data {data_name or ''}".rstrip()
                + f"; applicable: {', '.join(applicable) or 'none'}"
            )
        return [name for name in table if name in opts.metrics]
    chosen = [name for name, m in table.items() if m.default(kind, data_name)]
    if not chosen:
        raise MetricError(
            f"no metric applies to {kind} from {data_name!r}; point metrics cover "
            f"{', '.join(POINT_SOURCES)}"
        )
    if stacked(data_name):
        opts.notes.append(
            "Stacked MNIST: modes only by default; ask for fid, kid, pr, dc or is with --metrics"
        )
    missing = {name: table[name].unavailable(opts) for name in chosen}
    skipped = [name for name, why in missing.items() if why]
    if skipped:
        opts.notes.append(f"skipped {', '.join(skipped)}: {missing[skipped[0]]}")
    return [name for name in chosen if name not in skipped]


def _sample_count(metrics: list[str], data_name: str, opts: EvalOptions) -> int:
    if opts.n is not None:
        return opts.n
    table = metric_table()
    return max(table[m].n_for(data_name) for m in metrics)


def compute(job: Job, samples: Samples, metrics: list[str]) -> list[dict[str, Any]]:
    """Every requested metric's rows for ``samples`` in ``job`` (its settings checked: gankit.evaluation.settings),
    in the metric table's order."""
    job.samples, table, rows = samples, metric_table(), []
    for name in metrics:
        new = table[name].rows(job)
        if new:
            stamp = protocol_stamp(job, table[name])
            rows += [{**r, "protocol": stamp} for r in new]
    return rows


def default_reference(data_name: str) -> str:
    """The reference a run of ``data_name`` is evaluated against unless told: its test split, or the set itself
    when it has none (``NAME:``); a points source's training distribution (``NAME:train``)."""
    return f"{data_name}:" + ("train" if data_name in POINT_SOURCES else "")


def evaluate_run(
    run_dir: str | Path,
    opts: EvalOptions,
    checkpoint: str = "latest",
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Sample the run's generator and evaluate, every setting checked first; writes ``out`` (this evaluation's
    rows), or without it ``RUN/eval.json`` (which keeps earlier metrics' rows); returns the result and, under
    ``written``, the file."""
    run_dir, target = Path(run_dir), _target(out)
    meta = load_checkpoint(run_dir / "checkpoints", checkpoint).meta
    data_cfg = from_dict(meta["config"]).data
    metrics = choose_metrics(meta["kind"], data_cfg.name, opts)
    n = _sample_count(metrics, data_cfg.name, opts)
    reference = opts.reference or default_reference(data_cfg.name)
    shape = tuple(meta["sample_shape"])
    job = plan(metrics, n, meta["kind"], shape, reference, data_cfg, data_cfg.name, opts)
    rows = compute(job, samples_from_run(run_dir, checkpoint, n, opts.seed), metrics)
    checkpoint_name = step_name(meta["step"])
    for r in rows:
        r.update(checkpoint=checkpoint_name, seed=opts.seed)
    result = {
        "run": str(run_dir),
        "checkpoint": checkpoint_name,
        "step": meta["step"],
        "seed": opts.seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rows": rows,
        "notes": opts.notes,
    }
    target = target or run_dir / "eval.json"
    kept = _merged(target, result) if out is None else result
    write_atomic(target, json.dumps(kept, indent=1).encode())
    return {**result, "written": str(target)}


def _target(out: str | Path | None) -> Path | None:
    """``--out`` as a path, checked before any work (None: not given)."""
    if out is None:
        return None
    why = out_problem(Path(out))
    if why:
        raise MetricError(f"--out {out}: {why}")
    return Path(out)


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
    return spec if spec in POINT_SOURCES else spec.rpartition(":")[0]


def evaluate_samples(
    path: str | Path, opts: EvalOptions, out: str | Path | None = None
) -> dict[str, Any]:
    """Evaluate an .npz of samples made by any program against ``opts.reference``; writes ``out`` (default
    ``PATH.eval.json``)."""
    if opts.metrics:
        opts.metrics = imported_names(opts.metrics)
    table = metric_table()
    if not opts.reference and not (
        opts.metrics and all(not table[m].needs_reference for m in opts.metrics if m in table)
    ):
        raise MetricError(
            "--samples needs --reference DATASET:SPLIT, a points source (ring8, grid25, gauss1d) or "
            "a reference .npz"
        )
    target = _target(out) or Path(str(path)[:-4] + ".eval.json")
    x = read_npz(path)
    kind = "image" if x.dtype == torch.uint8 else "points"
    name = reference_name(opts.reference)
    data_cfg = DataConfig(name=name) if kind == "points" and name in POINT_SOURCES else None
    metrics = choose_metrics(kind, name, opts)
    x = x[: opts.n]
    job = plan(metrics, len(x), kind, None, opts.reference, data_cfg, name, opts)
    result = {
        "samples": str(path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "rows": compute(job, Samples(x, kind), metrics),
        "notes": opts.notes,
    }
    write_atomic(target, json.dumps(result, indent=1).encode())
    result["written"] = str(target)
    return result


def write_reference_stats(out: str | Path, opts: EvalOptions) -> dict[str, Any]:
    """Inception statistics (``mu``, ``sigma``) of ``opts.reference``'s images (first ``opts.n_ref``) as ``out``."""
    if not opts.reference:
        raise MetricError(
            "--save-reference-stats needs --reference DATASET:SPLIT or an images .npz"
        )
    if not str(out).endswith(".npz"):
        raise MetricError(f"--save-reference-stats {out}: the file name must end in .npz")
    reference = resolve_reference(opts.reference, None, opts.n_ref, FEATURE_DIM)
    return save_reference_stats(reference, out, opts)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: metric, value ± uncertainty, n, reference, seconds; then each distinct protocol stamp on a
    line of its own."""
    lines = [f"{'metric':<18} {'value':>22} {'n':>7}  {'reference':<28} {'s':>8}"]
    for r in rows:
        value = f"{r['value']:.4f}" + (
            f" ± {r['uncertainty']:.4f}" if r.get("uncertainty") is not None else ""
        )
        lines.append(
            f"{r['metric']:<18} {value:>22} {r['n']:>7}  {r['reference']:<28} {r['seconds']:>8.1f}"
        )
    stamps = {describe(r.get("protocol")): None for r in rows}
    return "\n".join(lines + [f"protocol: {s}" for s in stamps])
