"""The probe that evaluates G while it trains (``train.eval_every_kimg``; gankit.train.quality): the tracked metric
of ``train.eval_n`` samples (noise seed 0) against the run's reference, whose features are cached on disk after the
first evaluation. Nothing here touches the run's random streams: the noise comes from a generator of its own."""

from __future__ import annotations

from typing import Any

from ..config import Config
from ..errors import ConfigError, GankitError
from .inputs import generator_samples
from .options import EvalOptions
from .run import choose_metrics, compute, default_reference
from .table import metric_table

# train.eval_metric (a row name) → the metric-table entry whose rows hold it
TRACKED = {"fid": "fid", "kid": "kid", "fid_classifier": "classifier", "jsd": "jsd"}
SEED = 0


class QualityProbe:
    """gankit's probe for :class:`gankit.train.Trainer` (``probe=QualityProbe()``)."""

    def _options(self, cfg: Config, device: str = "cpu") -> EvalOptions:
        t = cfg.train
        reference = t.eval_reference or default_reference(cfg.data.name)
        return EvalOptions(
            metrics=[TRACKED[t.eval_metric]],
            n=t.eval_n,
            reference=reference,
            seed=SEED,
            device=device,
        )

    def check(self, cfg: Config, kind: str) -> None:
        """A one-line ConfigError when ``train.eval_metric`` does not apply to this run or cannot run here."""
        opts, metric = self._options(cfg), cfg.train.eval_metric
        try:
            choose_metrics(kind, cfg.data.name, opts)
        except GankitError as e:
            raise ConfigError(f"train.eval_metric={metric}: {e}") from None
        missing = metric_table()[TRACKED[metric]].unavailable(opts)
        if missing:
            raise ConfigError(f"train.eval_metric={metric}: {missing}")

    def __call__(self, G, cfg: Config, kind: str, generator: str) -> dict[str, Any]:
        """The row of ``train.eval_metric`` for ``G`` (eval mode, any device), with its protocol stamp."""
        device = str(next(G.parameters()).device)
        opts = self._options(cfg, device)
        samples = generator_samples(G, kind, opts.n, SEED, generator)
        rows = compute(samples, opts.metrics, opts.reference, cfg.data, cfg.data.name, opts)
        return next(r for r in rows if r["metric"] == cfg.train.eval_metric)
