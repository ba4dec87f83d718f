"""Quality tracked while training (``train.eval_every_kimg``): when to evaluate (each time the count of real images
crosses a multiple of the interval), the best value so far and when it
came, and whether patience has run out. The evaluation itself is a *probe* passed to the Trainer
(gankit.evaluation.during_training builds one): training never computes a metric. The tracker's state is part of
every checkpoint, so a resumed run keeps the same best and evaluates at the same steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..config import Config
from ..data import Dataset
from ..models import Generator


class Probe(Protocol):
    """What evaluates G for the tracker (gankit.evaluation.QualityProbe is gankit's)."""

    def check(self, cfg: Config, dataset: Dataset) -> Config:
        """The config the run trains with (``train.eval_metric`` resolved where it is "auto"), every evaluation
        setting checked against the training ``dataset`` before the first step; a one-line GankitError otherwise."""

    def __call__(self, G: Generator, cfg: Config, kind: str, generator: str) -> dict[str, Any]:
        """The metric row (``value``, ``seconds``, ``protocol``, ...) of G (in eval mode; ``generator``: "ema" or
        "raw")."""


@dataclass
class QualityTracker:
    """Evaluations every ``every_img`` real images of ``metric`` (lower is better); stop once
    ``patience_img`` images pass without a better value (None: never). ``best``/``best_step``/``best_nimg``: the
    best so far; ``seconds``: evaluation time so far (not training time); ``latest``: the last value."""

    metric: str
    every_img: int
    patience_img: int | None = None
    best: float | None = None
    best_step: int = -1
    best_nimg: int = 0
    seconds: float = 0.0
    latest: float | None = None  # for the progress bar; not checkpointed

    def due(self, nimg_before: int, nimg_after: int) -> bool:
        """Whether a step that took the count from ``nimg_before`` to ``nimg_after`` crossed a multiple of the
        interval. Only those: an evaluation where a run happened to stop would make a stopped and resumed run
        differ from one trained straight through."""
        return nimg_after // self.every_img > nimg_before // self.every_img

    def record(self, value: float, step: int, nimg: int) -> bool:
        """Note an evaluation's ``value``; whether it is the best so far (a NaN never is)."""
        self.latest = value
        better = value == value and (self.best is None or value < self.best)
        if better:
            self.best, self.best_step, self.best_nimg = value, step, nimg
        return better

    def stale(self, nimg: int) -> bool:
        """Whether patience has run out at ``nimg`` images."""
        return (
            self.patience_img is not None
            and self.best is not None
            and nimg - self.best_nimg >= self.patience_img
        )

    def state(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "best": self.best,
            "best_step": self.best_step,
            "best_nimg": self.best_nimg,
            "seconds": self.seconds,
        }

    def load(self, state: dict[str, Any] | None) -> None:
        """Continue from :meth:`state` (None or another metric's: start afresh)."""
        if not state or state.get("metric") != self.metric:
            state = {"best": None, "best_step": -1, "best_nimg": 0, "seconds": 0.0}
        self.best, self.best_step = state["best"], state["best_step"]
        self.best_nimg, self.seconds = state["best_nimg"], state["seconds"]


def tracker_of(t) -> QualityTracker | None:
    """The tracker a TrainConfig asks for (None without ``eval_every_kimg``)."""
    if t.eval_every_kimg is None:
        return None
    patience = None if t.eval_patience_kimg is None else round(1000 * t.eval_patience_kimg)
    return QualityTracker(t.eval_metric, max(1, round(1000 * t.eval_every_kimg)), patience)
