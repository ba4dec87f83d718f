"""Evaluate a run (or any program's samples) with the metrics of docs/design.md ('Metrics', 'The paper's protocol') and
write ``eval.json``.

Glue only: samples come from a run's checkpoint (:mod:`gankit.train.restore`) or an ``.npz``; references from the
data registry, an ``.npz`` of images or of published Inception statistics; every number is computed by
:mod:`gankit.metrics`. Modules: :mod:`.options` (what may be asked), :mod:`.inputs` (samples and references),
:mod:`.inception_rows` and :mod:`.domain_rows` (one function per metric family), :mod:`.run` (choice and entry points).
"""

from .inception_rows import inception_rows
from .inputs import Reference, read_npz, read_stats, resolve_reference, write_stats
from .options import EvalOptions, Samples
from .run import choose_metrics, evaluate_run, evaluate_samples, format_table, write_reference_stats

__all__ = ["EvalOptions", "Reference", "Samples", "choose_metrics", "evaluate_run", "evaluate_samples", "format_table",
           "inception_rows", "read_npz", "read_stats", "resolve_reference", "write_reference_stats", "write_stats"]
