"""Quality tracked while training (train.eval_every_kimg; docs/training.md, 'Quality while training'): the metric in
metrics.jsonl, TensorBoard and the report, checkpoints/best and --best, patience, evaluation time kept out of training
time, and a resume that stays bit-identical with evaluation on."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from gankit_testkit import same_checkpoints

from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.evaluation import QualityProbe
from gankit.train import Trainer
from gankit.train import checkpoint as ckpt
from gankit.train.logger import read_metrics
from gankit.train.quality import QualityTracker

GAUSS = [
    "train.eval_every_kimg=5",
    "train.eval_metric=jsd",
    "train.eval_n=1000",
    "train.log_every=20",
    "train.checkpoint_every=60",
]


def _gauss(steps: int, *extra: str):
    return load_config("gauss1d", [f"train.steps={steps}", *GAUSS, *extra])


def _quality_rows(run) -> list[dict]:
    return [r for r in read_metrics(run) if "quality/jsd" in r]


def test_tracking_resumes_bit_identically(tmp_path):
    """A run evaluated every 5k images, stopped at step 60 and resumed to 120, equals the run trained straight to
    120: the same checkpoint, the same evaluations (steps and values), the same best checkpoint."""
    Trainer(_gauss(120), tmp_path / "one", probe=QualityProbe()).fit()
    Trainer(_gauss(60), tmp_path / "two", probe=QualityProbe()).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=120"], probe=QualityProbe()).fit()
    same_checkpoints(tmp_path / "one", tmp_path / "two")
    one, two = _quality_rows(tmp_path / "one"), _quality_rows(tmp_path / "two")
    strip = [{k: v for k, v in r.items() if "seconds" not in k and k != "time_s"} for r in one]
    assert strip == [
        {k: v for k, v in r.items() if "seconds" not in k and k != "time_s"} for r in two
    ]
    # 256 images a step: the count crosses a multiple of 5,000 at these steps
    assert [r["step"] for r in one] == [20, 40, 59, 79, 98, 118]
    best = [ckpt.load(tmp_path / run / "checkpoints", "best") for run in ("one", "two")]
    assert best[0].meta["step"] == best[1].meta["step"] == one[-1]["quality/best_step"]
    for key, value in best[0].tensors.items():
        assert torch.equal(value, best[1].tensors[key]), key
    assert best[0].meta["quality"]["best"] == min(r["quality/jsd"] for r in one)


class _Scripted:
    """A probe returning set values in turn (testing the tracker, not a metric), optionally slow."""

    def __init__(self, values: list[float], sleep_s: float = 0.0) -> None:
        self.values, self.sleep_s, self.calls = list(values), sleep_s, 0

    def check(self, cfg, dataset):
        return cfg

    def __call__(self, G, cfg, kind: str, generator: str) -> dict:
        time.sleep(self.sleep_s)
        self.calls += 1
        return {"value": self.values.pop(0), "protocol": {"metric": "scripted"}}


def test_patience_stops_early_and_best_is_the_lowest(tmp_path):
    """Values 3, 1, 2, 2, 2 with patience 14k images: best at the second evaluation (10,240 images), stop at the
    fifth (25,088 images, 14,848 after the best)."""
    probe = _Scripted([3.0, 1.0, 2.0, 2.0, 2.0, 2.0])
    trainer = Trainer(_gauss(400, "train.eval_patience_kimg=14"), tmp_path / "run", probe=probe)
    trainer.fit()
    assert probe.calls == 5 and trainer.step == 98 and trainer.stopped_early
    assert (trainer.quality.best, trainer.quality.best_step) == (1.0, 40)
    assert ckpt.load(tmp_path / "run" / "checkpoints", "best").meta["step"] == 40
    assert ckpt.load(tmp_path / "run" / "checkpoints").meta["step"] == 98


def test_evaluation_time_is_not_training_time(tmp_path):
    """Three evaluations of 1 s each: the logged training time leaves them out, quality/total_seconds holds them."""
    trainer = Trainer(_gauss(60), tmp_path / "run", probe=_Scripted([1.0, 2.0, 3.0], sleep_s=1.0))
    started = time.monotonic()
    trainer.fit()
    wall = time.monotonic() - started
    rows = [r for r in read_metrics(tmp_path / "run") if "quality/total_seconds" in r]
    assert len(rows) == 3 and rows[-1]["quality/total_seconds"] >= 3.0
    assert trainer.quality.seconds >= 3.0 and trainer.elapsed_s <= wall - 2.9


def test_configuration_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="set train.eval_every_kimg too"):
        load_config("gauss1d", ["train.eval_patience_kimg=5"])
    with pytest.raises(ConfigError, match="no probe to evaluate with"):
        Trainer(_gauss(10), tmp_path / "a")
    with pytest.raises(
        ConfigError, match="train.eval_metric=fid_classifier: metric 'classifier' does not"
    ):
        Trainer(
            _gauss(10, "train.eval_metric=fid_classifier"), tmp_path / "b", probe=QualityProbe()
        )
    with pytest.raises(ConfigError) as error:
        Trainer(_gauss(10, "train.eval_metric=is"), tmp_path / "c", probe=QualityProbe())
    assert str(error.value) == (
        "train.eval_metric 'is' is not a trackable metric; choices: auto, jsd, fid, kid, "
        "fid_classifier, fd_random"
    )


def test_the_tracker_ignores_nan_and_restarts_for_another_metric():
    q = QualityTracker("fid", every_img=1000, patience_img=2000)
    assert q.due(900, 1100) and not q.due(1100, 1900) and q.due(1999, 2000)
    assert q.record(5.0, 1, 1000) and not q.record(float("nan"), 2, 2000) and not q.stale(2999)
    assert q.stale(3000)
    other = QualityTracker("kid", every_img=1000)
    other.load(q.state())
    assert other.best is None and other.best_step == -1


def test_an_image_run_shows_quality_everywhere(tmp_path, capsys):
    """8×8 digits, the domain classifier's Fréchet distance every 2k images: metrics.jsonl rows with the protocol,
    TensorBoard scalars and text, the report's quality figure and timings, and `gankit sample/eval --best`."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    sets = [
        "train.steps=60",
        "train.batch_size=50",
        "train.log_every=20",
        "train.checkpoint_every=20",
    ]
    sets += ["train.eval_every_kimg=1", "train.eval_metric=fid_classifier", "train.eval_n=200"]
    args = ["train", "quickstart", "--data", "digits", "--run-dir", str(run), "--quiet"]
    assert main(args + [a for s in sets for a in ("--set", s)]) == 0
    rows = [r for r in read_metrics(run) if "quality/fid_classifier" in r]
    assert [r["step"] for r in rows] == [20, 40, 60]
    stamp = rows[0]["quality/protocol"]
    assert (stamp["n"], stamp["seed"], stamp["generator"]) == (200, 0, "raw")
    assert stamp["reference"]["name"] == "digits:test"
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    assert len(events.Scalars("quality/fid_classifier")) == 3
    assert "quality/fid_classifier/protocol/text_summary" in events.Tags()["tensors"]
    assert main(["report", str(run)]) == 0
    assert (run / "figures" / "quality.png").is_file()
    html = (run / "report.html").read_text()
    assert "evaluation while training" in html and "best fid_classifier" in html
    best_step = min(rows, key=lambda r: r["quality/fid_classifier"])["step"]
    for which in (["--best"], ["--checkpoint", str(best_step)]):
        out = str(tmp_path / f"{which[0]}.npz")
        assert (
            main(["sample", str(run), "--n", "4", "--npz", out, "--out", out + ".png"] + which) == 0
        )
    best, named = np.load(tmp_path / "--best.npz")["x"], np.load(tmp_path / "--checkpoint.npz")["x"]
    assert np.array_equal(best, named)
    capsys.readouterr()
    assert (
        main(["eval", str(run), "--best", "--metrics", "classifier", "--n", "200", "--quiet"]) == 0
    )
    result = json.loads((run / "eval.json").read_text())
    fd = next(r for r in result["rows"] if r["metric"] == "fid_classifier")
    # the same G, noise seed, n and reference as the evaluation during training: the same figure
    assert result["step"] == best_step
    assert fd["value"] == pytest.approx(rows[-1]["quality/best"], rel=1e-6)
