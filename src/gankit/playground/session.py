"""One playground session: a gankit :class:`~gankit.train.Trainer` stepped by its own worker thread.

Commands from any of the session's browser tabs are checked on arrival (bad ones raise a one-line error at once) and
queued; the worker applies them in order between training chunks, so "pause" then "step" always advances exactly one
generator update. While playing, the worker runs ``speed`` generator updates (``Trainer.train_step``), then publishes a
frame, at most one frame per ``MIN_FRAME_S`` seconds; a stopped session's worker ends after its current update. A
reset builds a new trainer and shows it paused at step 0; if building fails, the old trainer stays. Messages leave
through ``publish(kind, json_text, point)``: kind ``setup``, ``state``, ``frame`` or ``event``; ``point`` is the
frame's [step, d_loss, g_loss, D(x), D(G(z))] (chunk means) or None.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable

import torch

from ..data import Dataset, Split
from ..errors import GankitError, TrainingDiverged
from ..train import Trainer
from .runs import save_run
from .settings import check, to_config
from .uploads import Upload
from .views import View, finite_means

log = logging.getLogger(__name__)

MIN_FRAME_S = 0.05  # at most 20 frames a second
SPEED_RANGE = (1, 1000)  # generator updates per frame while playing
DEFAULT_SPEED = 10
TRAIN_THREADS = 1  # torch threads of each worker: sessions share the machine
CURVE_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")

Publish = Callable[[str, str, "list | None"], None]


class CommandError(GankitError, ValueError):
    """A command from the page is malformed (unknown name, wrong value)."""


def _json(msg: dict[str, Any]) -> str:
    return json.dumps(msg, allow_nan=False, separators=(",", ":"))


class Session:
    """A trainer, its settings and its worker thread. ``command``/``accept_upload``/``close`` are called from the
    server's event loop; everything named ``_do_*`` runs on the worker."""

    def __init__(self, sid: str, runs_dir: Path, publish: Publish) -> None:
        self.id, self.runs_dir, self._publish = sid, Path(runs_dir), publish
        self.folder = Path(tempfile.mkdtemp(prefix=f"gankit-playground-{sid}-"))
        self.upload: Upload | None = None  # the latest accepted upload (event-loop side)
        self._trainer: Trainer | None = None
        self._view: View | None = None
        self._settings: dict[str, Any] = {}
        self._upload: Upload | None = None  # the upload the current trainer uses (worker side)
        self._running, self._speed, self._resets = False, DEFAULT_SPEED, 0
        self._cond = threading.Condition()
        self._queue: deque[tuple] = deque([("reset", check({}, None), None)])
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"playground-{sid}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------------- event-loop side

    def command(self, msg: Any) -> None:
        """Check one page command and queue it: {"cmd": "play"|"pause"|"step"|"save"}, {"cmd": "speed", "value":
        1..1000} or {"cmd": "reset", "settings": {...}}. Raises CommandError/ConfigError with a one-line message."""
        cmd = msg.get("cmd") if isinstance(msg, dict) else None
        if cmd in ("play", "pause", "step", "save"):
            self._put((cmd,))
        elif cmd == "speed":
            value, (lo, hi) = msg.get("value"), SPEED_RANGE
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                raise CommandError(
                    f"speed: {value!r} is not a whole number of steps per frame from {lo} to {hi}"
                )
            self._put(("speed", value))
        elif cmd == "reset":
            settings = check(msg.get("settings") or {}, self.upload)
            to_config(settings, self.upload)  # a bad combination fails now, in the sender's tab
            self._put(("reset", settings, self.upload))
        else:
            raise CommandError(
                f"unknown command {str(cmd)[:40]!r}; commands are: play, pause, step, speed, reset, "
                f"save"
            )

    def accept_upload(self, upload: Upload) -> None:
        """Train on ``upload`` from now on (a reset keeping the other settings)."""
        self.upload = upload
        self._put(("reset", None, upload))

    def stop(self) -> None:
        """Ask the worker to stop after its current generator update; returns at once."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def close(self) -> None:
        """Stop the worker, wait for it (it drops the trainer) and delete the session's temporary folder."""
        self.stop()
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _put(self, item: tuple) -> None:
        with self._cond:
            self._queue.append(item)
            self._cond.notify()

    # ------------------------------------------------------------------------------------------------ worker side

    def _work(self) -> None:
        torch.set_num_threads(TRAIN_THREADS)
        next_frame = 0.0
        while True:
            with self._cond:
                while not self._closed and not self._queue:
                    wait = next_frame - time.monotonic() if self._running else None
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._closed:
                    break
                item = self._queue.popleft() if self._queue else ("tick",)
            if item[0] == "tick":
                next_frame = time.monotonic() + MIN_FRAME_S
            self._guarded(item)
        self._trainer = self._view = None

    def _guarded(self, item: tuple) -> None:
        """Apply one command; its failure becomes an error message on the page, never the end of the worker."""
        try:
            getattr(self, f"_do_{item[0]}")(*item[1:])
        except TrainingDiverged as e:
            self._running = False
            self._event("error", message=str(e))
            self._state()
        except GankitError as e:
            self._event("error", message=str(e))
        except Exception as e:  # noqa: BLE001 -- a bug must not kill the session's worker or the server
            log.exception("playground session %s: %s failed", self.id, item[0])
            self._running = False
            self._event(
                "error",
                message=f"internal error in {item[0]} ({type(e).__name__}: {e}); see the server log",
            )
            self._state()

    def _do_play(self) -> None:
        self._require_trainer()
        self._running = True
        self._state()

    def _do_pause(self) -> None:
        self._running = False
        self._state()

    def _do_speed(self, value: int) -> None:
        self._speed = value
        self._state()

    def _do_step(self) -> None:
        self._frame(self._advance(1))

    def _do_tick(self) -> None:
        self._frame(self._advance(self._speed))

    def _do_save(self) -> None:
        path = save_run(self._require_trainer(), self._upload, self.runs_dir)
        self._event("saved", path=str(path), step=self._trainer.step)

    def _do_reset(self, settings: dict[str, Any] | None, upload: Upload | None) -> None:
        """A new trainer from ``settings`` (None: the current ones on the uploaded data), paused at step 0."""
        if settings is None:
            settings = check({**self._settings, "dataset": "upload"}, upload)
        upload = upload if settings["dataset"] == "upload" else None
        notice = None
        if upload is not None and settings["batch_size"] > len(upload.x):
            settings = {**settings, "batch_size": len(upload.x)}
            notice = f"batch size lowered to {len(upload.x)}, the number of uploaded points"
        dataset = (
            Dataset("points", "points", {"train": Split(upload.x)}, source=upload.name)
            if upload
            else None
        )
        run_dir = self.folder / f"run-{self._resets + 1}"
        try:
            trainer = Trainer(to_config(settings, upload), run_dir, dataset=dataset)
            view = View(trainer, settings, self._resets + 1)
            setup, frame = view.setup(), view.frame()
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise
        if self._trainer is not None:
            shutil.rmtree(self._trainer.run_dir, ignore_errors=True)
        self._resets += 1
        self._trainer, self._view, self._settings, self._upload = trainer, view, settings, upload
        self._running = False
        self._publish("setup", _json(setup), None)
        self._state()
        self._publish("frame", _json(frame), None)
        if notice:
            self._event("notice", message=notice)

    def _require_trainer(self) -> Trainer:
        if self._trainer is None:
            raise CommandError("no model yet: choose settings and press reset")
        return self._trainer

    def _advance(self, n: int) -> list:
        """n generator updates, fewer when the session is stopped meanwhile; returns the history point [step, d_loss,
        g_loss, D(x), D(G(z))] (means)."""
        t = self._require_trainer()
        sums: dict[str, torch.Tensor] = {}
        for done in range(1, n + 1):
            stats = t.train_step()[1]
            for k in CURVE_KEYS:
                sums[k] = sums[k] + stats[k] if k in sums else stats[k].clone()
            if self._closed:
                break
        means = finite_means(sums, done)
        return [t.step, *(round(means[k], 5) for k in CURVE_KEYS)]

    def _frame(self, point: list) -> None:
        """Publish a frame, unless the session is stopping (nobody watches it any more)."""
        if self._closed:
            return
        self._publish("frame", _json({**self._view.frame(), "point": point}), point)

    def _state(self) -> None:
        step = self._trainer.step if self._trainer is not None else 0
        self._publish(
            "state",
            _json({"type": "state", "running": self._running, "speed": self._speed, "step": step}),
            None,
        )

    def _event(self, kind: str, **fields: Any) -> None:
        self._publish("event", _json({"type": kind, **fields}), None)
