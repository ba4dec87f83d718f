"""The metric table: one :class:`Metric` entry per metric `gankit eval` knows, registered by name. `gankit eval`'s
choices, defaults, sample counts, help and dispatch, and the metrics page of the docs, all read it; a metric of
one's own is one :func:`register_metric` call (docs/design.md, "How to add a metric").

An entry's ``rows(job)`` returns its result rows (:func:`gankit.evaluation.options.row`); the :class:`Job` gives it
the samples, the reference (resolved once, when first asked for) and a per-evaluation memo, so FID, KID,
precision/recall and density/coverage share one pass of the Inception network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import DataConfig
from ..errors import MetricError
from ..metrics.inception import FEATURE_DIM
from ..registry import Registry
from .inputs import Reference, resolve_reference
from .options import DEFAULT_N_IMAGES, EvalOptions, Samples


@dataclass
class Job:
    """One evaluation: ``samples`` of the data ``data_name`` (``data_cfg``: the run's data settings, or None),
    compared with the reference ``reference_spec``; ``memo`` holds what several metrics share. ``samples`` is None
    while the settings are checked (gankit.evaluation.settings), before any sample is drawn."""

    samples: Samples | None
    data_name: str
    data_cfg: DataConfig | None
    reference_spec: str | None
    opts: EvalOptions
    memo: dict[str, Any] = field(default_factory=dict)

    def reference(self, metric: str) -> Reference:
        """The reference, resolved on first use; a one-line MetricError naming ``metric`` when there is none."""
        if "reference" not in self.memo:
            if not self.reference_spec:
                raise MetricError(f"{metric} needs --reference DATASET:SPLIT or a reference .npz")
            self.memo["reference"] = resolve_reference(
                self.reference_spec, self.data_cfg, self.opts.n_ref, FEATURE_DIM
            )
        return self.memo["reference"]

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per evaluation under ``key``."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass(frozen=True)
class Metric:
    """A metric: ``rows(job)`` → result rows; ``applies(kind, data_name)``: whether it can be asked for on samples of
    that kind ("image" or "points") and data; ``default(kind, data_name)``: whether `gankit eval` computes it
    unasked; ``default_n``: generated samples its protocol uses (a count, or a function of the data's name);
    ``needs_reference``: whether it compares with real data; ``unavailable(opts)``: why it cannot run here (a
    missing network), or None; ``help``: one line for `gankit eval --help` and the docs; ``version``: raised when
    the metric's definition changes, so that old and new figures are not compared; ``protocol(job)``: what else its
    figures depend on (the feature network and its settings), called after ``rows``, for the rows' protocol stamp
    (gankit.evaluation.protocol); ``check(job, n)``: why it cannot give rows for ``n`` samples against the job's
    reference (a size, a reference it cannot read), or None, asked before any sample is drawn; ``features``: the
    width of the features it computes per image (0: none), for the memory check; ``tracks``: the row quality
    tracking may follow while training (``train.eval_metric``), one value where lower is better ('': none)."""

    name: str
    rows: Callable[[Job], list[dict[str, Any]]]
    applies: Callable[[str, str], bool]
    default: Callable[[str, str], bool] = lambda kind, data_name: False
    default_n: int | Callable[[str], int] = DEFAULT_N_IMAGES
    needs_reference: bool = True
    unavailable: Callable[[EvalOptions], str | None] = lambda opts: None
    help: str = ""
    version: int = 1
    protocol: Callable[[Job], dict[str, Any]] = lambda job: {}
    check: Callable[[Job, int], str | None] = lambda job, n: None
    features: int = 0
    tracks: str = ""

    def n_for(self, data_name: str) -> int:
        return self.default_n(data_name) if callable(self.default_n) else self.default_n


METRICS: Registry[Metric] = Registry(
    "--metrics", MetricError, "a metric", is_entry=lambda value: isinstance(value, Metric)
)


def register_metric(metric: Metric) -> Metric:
    """Make ``metric`` a choice of `gankit eval --metrics` under its name (gankit.registry's rules); returns it."""
    return METRICS.register(metric.name, metric)


def metric_table() -> dict[str, Metric]:
    """The registered metrics by name, in the order their rows are computed and printed (gankit's first)."""
    return METRICS.entries()


def imported_names(names: list[str]) -> list[str]:
    """Metric names as asked for, each resolved by the table (``MODULE:NAME`` imports MODULE first) and given as the
    metric's name; a :class:`Metric` found as the module's attribute joins the table."""
    out = []
    for name in names:
        metric = METRICS.resolve(name)
        if metric.name not in METRICS:
            register_metric(metric)
        out.append(metric.name)
    return out
