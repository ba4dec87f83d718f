"""Per-run metric logging: ``metrics.jsonl`` (one JSON object per logged step) and TensorBoard events, and the
meter that turns a log interval's steps into one row's means."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch

from ..errors import RunDirError
from ..fileio import write_atomic

log = logging.getLogger(__name__)


class Meter:
    """A log interval's step statistics (scalar device tensors, summed without a host sync) and the clock: training
    time so far, counted from ``elapsed_s`` at the start, and images per second over the interval."""

    def __init__(self, nimg: int, elapsed_s: float) -> None:
        self.restart(nimg, elapsed_s)

    def restart(self, nimg: int, elapsed_s: float) -> None:
        """Start afresh at ``nimg`` images and ``elapsed_s`` seconds (a run's start, or after a rollback, whose
        undone steps count for nothing)."""
        now = time.monotonic()
        self.started, self.mark_time, self.mark_nimg = now - elapsed_s, now, nimg
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}  # per key: a lazy penalty is not in every step's stats

    def add(self, stats: dict[str, torch.Tensor]) -> float:
        """Add one step's stats (one multi-tensor kernel); returns the training time so far, in seconds."""
        seen = [k for k in stats if k in self.sums]
        if seen:
            torch._foreach_add_([self.sums[k] for k in seen], [stats[k] for k in seen])
        for key, value in stats.items():
            if key not in self.sums:
                # a captured step's stats are overwritten by the next replay
                self.sums[key] = value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1
        return time.monotonic() - self.started

    def pause(self, seconds: float) -> None:
        """Leave ``seconds`` spent on something else (an evaluation) out of the training time and the rate."""
        self.started += seconds
        self.mark_time += seconds

    def take(self, nimg: int) -> tuple[dict[str, float], float]:
        """(each statistic's mean over the interval — the interval's one host sync —, images per second since the
        last take at ``nimg`` images now); the next interval starts."""
        now = time.monotonic()
        means = {k: v.item() / self.counts[k] for k, v in self.sums.items()}
        img_per_s = (nimg - self.mark_nimg) / max(now - self.mark_time, 1e-9)
        self.sums, self.counts, self.mark_time, self.mark_nimg = {}, {}, now, nimg
        return means, img_per_s


class MetricsLog:
    """Appends rows to ``RUN/metrics.jsonl`` and scalars to ``RUN/tensorboard/``.

    On resume, rows logged after the checkpoint's step (work that was lost) are removed first, so the file
    reads as one uninterrupted run.
    """

    def __init__(
        self, run_dir: Path, *, resume_step: int | None = None, tensorboard: bool = True
    ) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            self._truncate_after(resume_step)
        self._file = open(self.path, "a", encoding="utf-8")
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=resume_step)

    def _truncate_after(self, step: int) -> None:
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut by a crash
            if row.get("step", 0) <= step:
                kept.append(line)
        write_atomic(self.path, "".join(k + "\n" for k in kept).encode())

    def write(self, row: dict[str, Any]) -> None:
        clean = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else str(v))
            for k, v in row.items()
        }
        self._file.write(json.dumps(clean) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = row["step"]
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)):
                    self._tb.add_scalar(key, value, step)
            self._tb.flush()

    def text(self, tag: str, text: str, step: int) -> None:
        """A line of text in TensorBoard (e.g. an evaluation's protocol); nothing without TensorBoard."""
        if self._tb is not None:
            self._tb.add_text(tag, text, step)
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All rows of ``RUN/metrics.jsonl``. A last line cut short (a crash while it was appended: no newline after
    it) is skipped with a warning naming the file and line; any other malformed line is a RunDirError naming them."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RunDirError(f"{path}: not UTF-8 text (byte {e.start})") from None
    lines, rows = text.splitlines(), []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines) and not text.endswith("\n"):
                log.warning(
                    "%s, line %d: cut short (written when the run stopped abruptly); skipped",
                    path,
                    number,
                )
                continue
            raise RunDirError(
                f"{path}, line {number}: not a JSON row ({e.msg} at column {e.colno})"
            ) from None
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise RunDirError(
                f"{path}, line {number}: a row must be a JSON object with an integer 'step'"
            )
        rows.append(row)
    return rows
