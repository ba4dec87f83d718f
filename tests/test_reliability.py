"""Runs survive signals, SIGKILL, corrupt checkpoints and divergence; the doctor warns; a full disk is refused."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from gankit_testkit import quick_config

from gankit.errors import RunDirError, TrainingDiverged
from gankit.train import Trainer
from gankit.train import checkpoint as ckpt
from gankit.train.guard import Doctor, SignalGuard, read_doctor
from gankit.train.logger import read_metrics

# small MLPs: fast steps
RING8 = [
    "--set",
    "data.n_samples=2048",
    "--set",
    "train.batch_size=64",
    "--set",
    "train.log_every=10",
    "--set",
    "train.sample_every=100000",
    "--set",
    "train.snapshot_every=0",
    "--quiet",
    "--set",
    "model.hidden=128",
    "--set",
    "model.layers=2",
]


@pytest.fixture
def gankit():
    """Starts ``python -m gankit ARGS`` (stdout and stderr piped); every process still running at teardown is
    killed and reaped, so a failing test leaves no training behind."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "gankit", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _wait_for(proc: subprocess.Popen, predicate, timeout: float = 60.0) -> None:
    """Polls ``predicate`` until true; fails (with the child's stderr) if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(
                f"gankit exited with {proc.returncode} before the awaited moment: {proc.communicate()[1]}"
            )
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _logged(run: Path) -> bool:
    path = run / "metrics.jsonl"
    return path.is_file() and path.stat().st_size > 0


def _last_logged_step(run: Path) -> int:
    """The step of the last complete row of metrics.jsonl (0 when there is none yet)."""
    try:
        text = (run / "metrics.jsonl").read_text()
    except FileNotFoundError:
        return 0
    complete = text[: text.rfind("\n") + 1].splitlines()
    try:
        return json.loads(complete[-1])["step"] if complete else 0
    except (json.JSONDecodeError, KeyError):
        return 0


def test_sigterm_checkpoints_and_exits_143(tmp_path, gankit):
    run = tmp_path / "run"
    proc = gankit(
        "train",
        "ring8",
        "--run-dir",
        str(run),
        "--set",
        "train.steps=1000000",
        "--set",
        "train.checkpoint_every=1000000",
        *RING8,
    )
    _wait_for(proc, lambda: _logged(run))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert "stopped by SIGTERM at step" in last and f"gankit train --resume {run}" in last
    step = int(last.split("at step ")[1].split(";")[0])
    c = ckpt.load(run / "checkpoints")
    assert c.meta["step"] == step > 0
    proc = gankit("train", "--resume", str(run), "--set", f"train.steps={step + 5}", "--quiet")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert ckpt.load(run / "checkpoints").meta["step"] == step + 5


def test_sigint_then_second_sigint_aborts():
    """Inside the guard its handler is installed: a first SIGINT sent to this process is recorded, a second raises
    KeyboardInterrupt; on exit the previous SIGINT and SIGTERM handlers are back. (Bound methods are new objects
    on each access: handlers are compared with ==, not `is`.)"""
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    guard = SignalGuard()
    with guard:
        assert all(signal.getsignal(sig) == guard._handle for sig in before)
        signal.raise_signal(signal.SIGINT)  # the Python handler runs before raise_signal returns
        assert guard.requested == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert {sig: signal.getsignal(sig) for sig in before} == before


def _kill_at(proc: subprocess.Popen, run: Path, step: int, jitter: float) -> None:
    """SIGKILL ``proc`` ``jitter`` seconds after it has logged ``step``; asserts that the signal hit a running
    process (not one that had already exited)."""
    _wait_for(proc, lambda: _last_logged_step(run) >= step)
    time.sleep(jitter)
    assert proc.poll() is None, f"the run exited ({proc.returncode}) before the kill"
    proc.kill()
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _start_step(proc: subprocess.Popen) -> int:
    """The ``start step: N`` that a (finished or killed) ``gankit train`` printed on stderr."""
    err = proc.communicate(timeout=30)[1]
    return int(err.split("start step: ")[1].split()[0])


def test_sigkill_at_random_moments_then_resume(tmp_path, gankit):
    """SIGKILL three times, each time while the run is still training (checkpoints every 5 steps; the kill lands
    0-50 ms after a random logged step, so sometimes during a checkpoint write); each resume starts from the last
    complete checkpoint, and the run finishes with a readable one and one uninterrupted history."""
    run, rng, final = tmp_path / "run", random.Random(0), 600
    args = [
        "--set",
        f"train.steps={final}",
        "--set",
        "train.checkpoint_every=5",
        "--set",
        "train.keep_checkpoints=2",
    ]
    proc = gankit("train", "ring8", "--run-dir", str(run), *args, *RING8)
    good_steps = []
    for lo in (
        30,
        200,
        370,
    ):  # after a random step in [lo, lo + 60]: windows 110 steps apart, 170 before the end
        _kill_at(proc, run, rng.randint(lo, lo + 60), rng.uniform(0, 0.05))
        if good_steps:
            # the resume began at the last complete checkpoint
            assert _start_step(proc) == good_steps[-1]
        good = ckpt.load_latest_good(run / "checkpoints")
        assert good is not None and 0 < good.meta["step"] < final
        good_steps.append(good.meta["step"])
        proc = gankit("train", "--resume", str(run), "--quiet")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"start step: {good_steps[-1]}" in err
    assert ckpt.load(run / "checkpoints").meta["step"] == final
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == sorted(set(steps)) and steps[-1] == final  # one uninterrupted history


@pytest.mark.parametrize("damage", ["truncate", "flip", "json", "pointer"])
def test_corrupt_latest_falls_back_with_a_warning(tmp_path, tiny_images, caplog, damage):
    run = tmp_path / "run"
    Trainer(
        quick_config(train={"steps": 12, "checkpoint_every": 4}), run, dataset=tiny_images
    ).fit()
    folder = run / "checkpoints"
    assert ckpt.list_checkpoints(folder)[-1] == "step-000000012"
    blob = folder / "step-000000012.safetensors"
    if damage == "truncate":
        blob.write_bytes(blob.read_bytes()[: blob.stat().st_size // 2])
    elif damage == "flip":
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
    elif damage == "json":
        (folder / "step-000000012.json").write_text("{not json")
    else:
        (folder / "latest").write_bytes(b"\x80\x00garbage")  # not even UTF-8
    with caplog.at_level(logging.WARNING):
        trainer = Trainer.resume(run, ["train.steps=16"], dataset=tiny_images)
    expected = 12 if damage == "pointer" else 8
    assert trainer.step == expected
    if damage != "pointer":
        assert "skipping checkpoint step-000000012" in caplog.text
    trainer.fit()
    assert ckpt.load(folder).meta["step"] == 16


class _NaNAt:
    """Forward hook on D: NaN logits from the ``at``-th call on (``times`` calls in all; None: for ever)."""

    def __init__(self, at: int, times: int | None = 1) -> None:
        self.calls, self.at, self.times = 0, at, times

    def __call__(self, module, inputs, output):
        self.calls += 1
        if self.calls >= self.at and (self.times is None or self.calls < self.at + self.times):
            return output * float("nan")
        return output


def _nan_run(tmp_path, tiny_images, policy: str, hook: _NaNAt, steps: int = 20) -> Trainer:
    cfg = quick_config(
        train={"steps": steps, "log_every": 1, "checkpoint_every": 5, "on_divergence": policy}
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    trainer.D.register_forward_hook(hook)
    return trainer


def test_nan_rollback_restores_and_lowers_the_lr(tmp_path, tiny_images):
    # 2 D calls per step: step 8
    trainer = _nan_run(tmp_path, tiny_images, "rollback", _NaNAt(at=2 * 7 + 1))
    trainer.fit()
    assert trainer.step == 20 and trainer.rollbacks == 1 and trainer.lr_scale == 0.5
    notes = read_doctor(tmp_path / "run")
    assert [n["kind"] for n in notes] == ["rollback"] and "rolled back to step 5" in notes[0][
        "message"
    ]
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == list(range(1, 21))  # the bad row was not kept
    by_step = {r["step"]: r for r in rows}
    assert by_step[6]["lr"] == pytest.approx(0.5 * 0.1 / 1.000004**5)
    assert all(
        torch.isfinite(v).all()
        for v in ckpt.load(tmp_path / "run" / "checkpoints").tensors.values()
        if v.is_floating_point()
    )


def test_nan_stop_policy(tmp_path, tiny_images):
    trainer = _nan_run(tmp_path, tiny_images, "stop", _NaNAt(at=2 * 7 + 1))
    expected = (
        "non-finite d_loss, g_loss at step 8; stopped .train.on_divergence=stop.; "
        "the last good checkpoint is step-000000005"
    )
    with pytest.raises(TrainingDiverged, match=expected):
        trainer.fit()
    assert ckpt.load(tmp_path / "run" / "checkpoints").meta["step"] == 5


def test_nan_rollback_gives_up(tmp_path, tiny_images):
    trainer = _nan_run(tmp_path, tiny_images, "rollback", _NaNAt(at=2 * 7 + 1, times=None))
    with pytest.raises(TrainingDiverged, match="gave up after 3 rollbacks"):
        trainer.fit()
    kinds = [n["kind"] for n in read_doctor(tmp_path / "run")]
    assert kinds == ["rollback"] * 3 + ["diverged"]


def test_doctor_warns_once_per_condition(tmp_path):
    doctor = Doctor(tmp_path, probabilistic_d=True, real_diversity=1.0, window=3)
    for step in range(1, 6):
        doctor.check_row(
            {"step": step, "d_real": 0.999, "d_fake": 0.001, "grad_norm_d": 1.0, "grad_norm_g": 1.0}
        )
    doctor.check_row(
        {"step": 6, "d_real": 0.6, "d_fake": 0.4, "grad_norm_d": float("nan"), "grad_norm_g": 1.0}
    )
    gen = torch.Generator().manual_seed(0)
    doctor.check_samples(7, torch.randn(64, 2, generator=gen))
    doctor.check_samples(8, 0.1 * torch.randn(64, 2, generator=gen))  # diversity fell by 10×
    rows = read_doctor(tmp_path)
    assert [(r["step"], r["kind"]) for r in rows] == [
        (3, "d_overpowering"),
        (6, "nonfinite_gradients"),
        (8, "mode_collapse"),
    ]


def test_doctor_warnings_reach_the_report(tmp_path):
    from gankit.viz.report import build_report

    html = build_report(
        title="t",
        config_yaml="",
        metrics_rows=[],
        eval_rows=None,
        figures=[],
        timings={},
        environment={},
        doctor_rows=[{"step": 3, "kind": "mode_collapse", "message": "fell <a>"}],
    )
    assert 'id="doctor-table"' in html and "mode_collapse" in html and "fell &lt;a&gt;" in html


def test_full_disk_is_refused_before_anything_is_written(tmp_path, tiny_images, monkeypatch):
    import shutil

    from gankit.train import folder

    monkeypatch.setattr(
        folder.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000)
    )
    with pytest.raises(RunDirError, match="MiB free, but keeping 3 checkpoints"):
        Trainer(quick_config(), tmp_path / "run", dataset=tiny_images)
    assert not (tmp_path / "run").exists()


def test_unwritable_run_folder(tmp_path, tiny_images):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RunDirError, match="is not writable"):
        Trainer(quick_config(), blocker / "run", dataset=tiny_images)


def test_resume_without_any_checkpoint_starts_over(tmp_path, tiny_images, caplog):
    run = tmp_path / "run"
    # config.yaml written, never trained
    Trainer(quick_config(train={"steps": 2}), run, dataset=tiny_images)
    with caplog.at_level(logging.WARNING):
        trainer = Trainer.resume(run, dataset=tiny_images)
    assert trainer.step == 0 and "has no checkpoint: starting again from step 0" in caplog.text
    trainer.fit()
    assert json.loads((run / "checkpoints" / "step-000000002.json").read_text())["step"] == 2


def test_sample_uses_the_previous_good_checkpoint(tmp_path, tiny_images, capsys, caplog):
    from gankit.cli import main

    run = tmp_path / "run"
    Trainer(quick_config(train={"steps": 8, "checkpoint_every": 4}), run, dataset=tiny_images).fit()
    blob = run / "checkpoints" / "step-000000008.safetensors"
    blob.write_bytes(blob.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        assert main(["sample", str(run), "--n", "4"]) == 0
    assert "skipping checkpoint step-000000008" in caplog.text
    for name in ("step-000000000", "step-000000004"):
        (run / "checkpoints" / f"{name}.json").unlink()
    assert main(["sample", str(run), "--n", "4"]) == 1
    assert "holds no readable checkpoint" in capsys.readouterr().err
