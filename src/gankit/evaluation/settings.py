"""An evaluation's settings checked before the work: the reference resolved (its dataset, split or file), each
metric's own check at the sample count (KID's subset among them), the memory the samples and their features take,
and where the result goes; each a reason in one line, before a sample is drawn or a feature computed."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..config import DataConfig
from ..errors import GankitError, MetricError
from ..resources import available_memory, gib
from .options import EvalOptions
from .table import Job, Metric, metric_table

# host bytes per sample value: images as G's float32 output, its [0, 1] float32 copy and uint8; points as float32
SAMPLE_BYTES = {"image": 9, "points": 4}
DEVICE_BYTES = 4  # G's float32 output, all n samples on G's device before they move to the host
FEATURE_BYTES = 8  # float32 features, held twice while the chunks are joined


def reference_problem(job: Job, metric: str) -> str | None:
    """Why the job's reference cannot be read (no such dataset, split or file), or None; resolves it."""
    try:
        job.reference(metric)
    except GankitError as e:
        return str(e)
    return None


def metric_problem(entry: Metric, job: Job, n: int) -> str | None:
    """Why ``entry`` cannot give rows for ``n`` samples here (a missing network, its own check), or None."""
    return entry.unavailable(job.opts) or entry.check(job, n)


def memory_problem(
    job: Job, n: int, kind: str, shape: tuple[int, ...] | None, entries: list[Metric], device: str
) -> str | None:
    """Why ``n`` samples of ``shape`` each (None: already in memory) and their features do not fit: the host holds
    samples and features (the reference's too), ``device`` (G's) the samples as drawn; None when they fit or
    the memory is unknown."""
    values = 0 if shape is None else n * math.prod(shape)
    width = max((m.features for m in entries), default=0)
    reference = job.memo.get("reference")
    n_ref = len(reference.images) if width and reference and reference.images is not None else 0
    need = {"cpu": values * SAMPLE_BYTES[kind] + (n + n_ref) * width * FEATURE_BYTES}
    if torch.device(device).type != "cpu":
        need[device] = values * DEVICE_BYTES
    for where, nbytes in need.items():
        free = available_memory(where)
        if free is not None and nbytes > free:
            return (
                f"{n:,} samples and their features need about {gib(nbytes)} on "
                f"{'the host' if where == 'cpu' else where}, more than the {gib(free)} available there"
            )
    return None


def out_problem(path: Path) -> str | None:
    """Why the result cannot be written to ``path``, or None."""
    if path.is_dir():
        return "is a folder; name the file to write"
    if not path.parent.is_dir():
        return f"its folder {path.parent} does not exist"
    return None


def plan(
    metrics: list[str],
    n: int,
    kind: str,
    shape: tuple[int, ...] | None,
    spec: str | None,
    data_cfg: DataConfig | None,
    data_name: str,
    opts: EvalOptions,
) -> Job:
    """The Job of a `gankit eval` of ``n`` samples of ``kind`` (``shape`` each; None: already in memory) against
    ``spec``, every setting checked first; a one-line MetricError naming the option otherwise."""
    job, table = Job(None, data_name, data_cfg, spec, opts), metric_table()
    entries = [table[name] for name in metrics]
    why = any(m.needs_reference for m in entries) and reference_problem(job, metrics[0])
    if why:
        raise MetricError(f"reference {spec}: {why}")
    for name, entry in zip(metrics, entries):
        why = metric_problem(entry, job, n)
        if why:
            raise MetricError(f"{name}: {why}")
    why = memory_problem(job, n, kind, shape, entries, "cpu")
    if why:
        raise MetricError(f"--n {n}: {why}")
    return job
