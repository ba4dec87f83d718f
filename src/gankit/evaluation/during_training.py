"""The probe that evaluates G while it trains (``train.eval_every_kimg``; gankit.train.quality): the tracked metric
of ``train.eval_n`` samples (noise seed 0) against the run's reference, whose features are cached on disk after the
first evaluation. Every ``train.eval_*`` setting is checked when the Trainer is built, before the first step.
Nothing here touches the run's random streams: the noise comes from a generator of its own."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..config import Config
from ..data import Dataset
from ..errors import ConfigError, GankitError
from ..train.device import resolve_device
from .inputs import generator_samples
from .options import EvalOptions
from .run import choose_metrics, compute, default_reference
from .settings import memory_problem, metric_problem, reference_problem
from .table import Job, Metric, metric_table

SEED = 0


def trackable() -> dict[str, Metric]:
    """The values ``train.eval_metric`` may name (each a row of its metric's, lower is better; ``Metric.tracks``)
    with their metric-table entries, in the table's order: "auto" takes the first that can run."""
    return {m.tracks: m for m in metric_table().values() if m.tracks}


def _entry(metric: str) -> Metric:
    """The metric-table entry of the tracked ``metric``; a one-line ConfigError listing the choices otherwise."""
    entries = trackable()
    if metric not in entries:
        raise ConfigError(
            f"train.eval_metric {metric!r} is not a trackable metric; choices: auto, "
            f"{', '.join(entries)}"
        )
    return entries[metric]


def _reference(cfg: Config) -> str:
    return cfg.train.eval_reference or default_reference(cfg.data.name)


def _options(cfg: Config, metric: str, device: str = "cpu") -> EvalOptions:
    return EvalOptions(
        metrics=[_entry(metric).name],
        n=cfg.train.eval_n,
        reference=_reference(cfg),
        seed=SEED,
        device=device,
    )


class QualityProbe:
    """gankit's probe for :class:`gankit.train.Trainer` (``probe=QualityProbe()``). It keeps the reference it
    resolved (by spec and size), so a folder reference is read, and its skipped files reported, once per run."""

    def __init__(self) -> None:
        self._references: dict[tuple[str | None, int | None], Any] = {}

    def _job(self, cfg: Config, opts: EvalOptions) -> Job:
        """The Job of one evaluation, its reference the one resolved before for the same spec and size."""
        job = Job(None, cfg.data.name, cfg.data, opts.reference, opts)
        key = (opts.reference, opts.n_ref)
        if key in self._references:
            job.memo["reference"] = self._references[key]
        return job

    def _keep(self, job: Job) -> None:
        if "reference" in job.memo:
            self._references[(job.reference_spec, job.opts.n_ref)] = job.memo["reference"]

    def check(self, cfg: Config, dataset: Dataset) -> Config:
        """``cfg`` with ``train.eval_metric`` resolved ("auto": the first tracked metric that can run on
        ``dataset``), every train.eval_* setting checked first: the reference, the metric, the memory of
        ``train.eval_n`` samples and their features; a one-line ConfigError naming the setting otherwise."""
        t = cfg.train
        job = self._job(cfg, EvalOptions(n=t.eval_n, reference=_reference(cfg)))
        metric = _resolved(cfg, dataset.kind, job)
        self._keep(job)
        entry = _entry(metric)
        if t.eval_reference and not entry.needs_reference:
            raise ConfigError(
                f"train.eval_reference={t.eval_reference}: {metric} takes no reference; leave it null"
            )
        device = str(resolve_device(t.device))
        why = memory_problem(job, t.eval_n, dataset.kind, dataset.sample_shape, [entry], device)
        if why:
            raise ConfigError(f"train.eval_n={t.eval_n}: {why}")
        return replace(cfg, train=replace(t, eval_metric=metric))

    def __call__(self, G, cfg: Config, kind: str, generator: str) -> dict[str, Any]:
        """The row of ``train.eval_metric`` for ``G`` (eval mode, any device), with its protocol stamp."""
        metric = cfg.train.eval_metric
        opts = _options(cfg, metric, str(next(G.parameters()).device))
        samples = generator_samples(G, kind, opts.n, SEED, generator)
        job = self._job(cfg, opts)
        rows = compute(job, samples, opts.metrics)
        self._keep(job)
        return next(r for r in rows if r["metric"] == metric)


def _problem(metric: str, cfg: Config, kind: str, job: Job) -> str | None:
    """Why the tracked ``metric`` cannot run on this data, or None; an unreadable reference is a ConfigError."""
    entry, opts = _entry(metric), _options(cfg, metric)
    try:
        choose_metrics(kind, cfg.data.name, opts)
    except GankitError as e:
        return str(e)
    why = entry.needs_reference and reference_problem(job, entry.name)
    if why:
        raise ConfigError(f"train.eval_reference={job.reference_spec}: {why}")
    return metric_problem(entry, job, cfg.train.eval_n)


def _resolved(cfg: Config, kind: str, job: Job) -> str:
    """``train.eval_metric`` checked, "auto" resolved to the first tracked metric that applies and can run."""
    asked, name = cfg.train.eval_metric, cfg.data.name
    if asked != "auto":
        why = _problem(asked, cfg, kind, job)
        if why:
            raise ConfigError(f"train.eval_metric={asked}: {why}")
        return asked
    entries = trackable()
    applicable = [m for m, entry in entries.items() if entry.applies(kind, name)]
    problems = {}
    for metric in applicable:
        problems[metric] = _problem(metric, cfg, kind, job)
        if problems[metric] is None:
            return metric
    if not problems:
        raise ConfigError(
            f"train.eval_metric=auto: none of {', '.join(entries)} applies to {kind} data {name}; "
            f"leave train.eval_every_kimg null and measure the run with gankit eval"
        )
    reasons = "; ".join(f"{m}: {why}" for m, why in problems.items())
    raise ConfigError(f"train.eval_metric=auto: no tracked metric can run here ({reasons})")
