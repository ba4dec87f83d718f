"""What keeps a long run safe: signal handling (stop cleanly at a step boundary) and the training doctor
(warnings about D overpowering G, mode collapse and non-finite values, written to ``RUN/doctor.jsonl``)."""

from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalGuard:
    """While active (a context manager, main thread only): the first SIGINT/SIGTERM sets ``requested`` — the loop
    finishes its step, writes a checkpoint and stops; a second SIGINT raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = signum
        log.warning(
            "received %s: finishing this step and writing a checkpoint (press Ctrl-C again to abort now)",
            signal.Signals(signum).name,
        )

    def __enter__(self) -> "SignalGuard":
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def diversity(samples: torch.Tensor, max_n: int = 256) -> float:
    """Mean pairwise Euclidean distance between (up to ``max_n``) flattened samples [n, ...]."""
    x = samples[:max_n].reshape(min(len(samples), max_n), -1).float()
    return float(torch.pdist(x).mean()) if len(x) > 1 else 0.0


class Doctor:
    """Watches logged rows and fixed-noise samples; each warning goes to the log and to ``RUN/doctor.jsonl``.

    - ``d_overpowering``: mean D(x) > 0.99 and D(G(z)) < 0.01 for ``window`` consecutive logged rows (only for
      objectives whose D outputs a probability: gan, ragan).
    - ``mode_collapse``: diversity of the fixed-noise samples fell below ``collapse_ratio`` × its best so far,
      after that best had reached ``collapse_ratio`` × the real data's diversity.
    - ``nonfinite_gradients``: a logged mean gradient norm is NaN/Inf.
    Each condition warns once, then again only after it has cleared.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        probabilistic_d: bool,
        real_diversity: float,
        window: int = 5,
        collapse_ratio: float = 0.5,
    ) -> None:
        self.path = Path(run_dir) / "doctor.jsonl"
        self.probabilistic_d, self.real_diversity = probabilistic_d, real_diversity
        self.window, self.collapse_ratio = window, collapse_ratio
        self.strong_d_rows, self.best_diversity = 0, 0.0
        self.active: set[str] = set()

    def warn(self, step: int, kind: str, message: str) -> None:
        log.warning("doctor, step %d: %s", step, message)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"step": step, "kind": kind, "message": message, "time": time.time()})
                + "\n"
            )

    def _condition(self, step: int, kind: str, present: bool, message: str) -> None:
        if present and kind not in self.active:
            self.active.add(kind)
            self.warn(step, kind, message)
        elif not present:
            self.active.discard(kind)

    def check_row(self, row: dict[str, Any]) -> None:
        step = row["step"]
        if self.probabilistic_d and "d_real" in row:
            strong = row["d_real"] > 0.99 and row["d_fake"] < 0.01
            self.strong_d_rows = self.strong_d_rows + 1 if strong else 0
            self._condition(
                step,
                "d_overpowering",
                self.strong_d_rows >= self.window,
                f"D overpowers G: D(x) {row['d_real']:.3f}, D(G(z)) {row['d_fake']:.4f} for "
                f"{self.strong_d_rows} logged rows; G's gradient may vanish (try the non-saturating "
                f"loss, a lower D learning rate or a penalty)",
            )
        bad = [k for k in ("grad_norm_d", "grad_norm_g") if k in row and not math.isfinite(row[k])]
        self._condition(
            step, "nonfinite_gradients", bool(bad), f"non-finite gradients ({', '.join(bad)})"
        )

    def check_samples(self, step: int, samples: torch.Tensor) -> float:
        value = diversity(samples)
        had_variety = self.best_diversity >= self.collapse_ratio * self.real_diversity
        collapsed = had_variety and value < self.collapse_ratio * self.best_diversity
        self._condition(
            step,
            "mode_collapse",
            collapsed,
            f"possible mode collapse: diversity of the fixed-noise samples fell to {value:.3g} from "
            f"{self.best_diversity:.3g} (real data: {self.real_diversity:.3g})",
        )
        self.best_diversity = max(self.best_diversity, value)
        return value


def read_doctor(run_dir: Path) -> list[dict[str, Any]]:
    """Rows of ``RUN/doctor.jsonl`` (empty when the doctor never warned); cut lines are skipped."""
    path = Path(run_dir) / "doctor.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows
