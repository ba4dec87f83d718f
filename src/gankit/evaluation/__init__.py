"""Evaluate a run (or any program's samples) with the metrics of docs/design.md ('Metrics', 'The paper's protocol') and
write ``eval.json``.

Glue only: samples come from a run's checkpoint (:mod:`gankit.train.restore`) or an ``.npz``; references from the
data registry, an ``.npz`` of images or of published Inception statistics; every number is computed by
:mod:`gankit.metrics`. Modules: :mod:`.options` (options and the row format), :mod:`.inputs` (samples and references),
:mod:`.table` (the metric table, :func:`register_metric`), :mod:`.builtin_metrics` (gankit's entries),
:mod:`.inception_rows` and :mod:`.domain_rows` (the rows functions), :mod:`.run` (choice and entry points),
:mod:`.protocol` (every row's protocol stamp), :mod:`.compare` (`gankit eval --compare`), :mod:`.during_training`
(the probe of quality tracked while training).
"""

from . import builtin_metrics  # noqa: F401 -- registers gankit's metrics with the table
from .during_training import QualityProbe
from .inputs import Reference, read_npz, read_stats, resolve_reference, write_stats
from .options import EvalOptions, Samples
from .run import choose_metrics, evaluate_run, evaluate_samples, format_table, write_reference_stats
from .table import Job, Metric, metric_table, register_metric

__all__ = [
    "EvalOptions",
    "Job",
    "Metric",
    "QualityProbe",
    "Reference",
    "Samples",
    "choose_metrics",
    "evaluate_run",
    "evaluate_samples",
    "format_table",
    "metric_table",
    "read_npz",
    "read_stats",
    "register_metric",
    "resolve_reference",
    "write_reference_stats",
    "write_stats",
]
