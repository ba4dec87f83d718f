"""Evaluation settings are checked before the work (docs/reliability.md, 'Late settings'): every train.eval_* setting
before the first training step, every `gankit eval` option before the first sample or feature; KID's subset follows
the sizes; `--out` is where the result goes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gankit_testkit import quick_config
from PIL import Image

from gankit.cli import main
from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.evaluation import QualityProbe
from gankit.train import Trainer
from gankit.train.logger import read_metrics


class _Features:
    """Stands in for the Inception network: 16 pixel means per image (KID's arithmetic at test speed)."""

    sha256 = "f" * 64

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float().reshape(len(images), 1, -1)
        return torch.nn.functional.adaptive_avg_pool1d(x, 16)[:, 0]


def _no_features(opts):
    raise AssertionError("a feature was computed before the settings were checked")


@pytest.fixture
def features(monkeypatch):
    monkeypatch.setattr("gankit.evaluation.inception_rows._extractor", lambda opts: _Features())


@pytest.fixture
def no_features(monkeypatch):
    monkeypatch.setattr("gankit.evaluation.inception_rows._extractor", _no_features)


def _pictures(folder: Path, n: int) -> str:
    """``n`` random 8×8 RGB PNGs; the data source naming them."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return f"folder:{folder}"


def _config(data: dict, **train):
    """A quick config evaluated every 40 images (every other step) on 16 samples; toy presets for toy data."""
    train = {"eval_every_kimg": 0.04, "eval_n": 16, "steps": 4, "log_every": 2, **train}
    if data["name"] in ("gauss1d", "grid25"):
        return load_config(data["name"], [f"train.{key}={value}" for key, value in train.items()])
    return quick_config(data=data, train=train)


def _one_line(error: pytest.ExceptionInfo, *words: str) -> None:
    text = str(error.value)
    assert "\n" not in text and all(w in text for w in words), text


def test_kid_while_training_works_on_64_pictures(tmp_path, features):
    """64 pictures, 16 samples an evaluation: KID's subset is min(1000, 16, 64) and the stamp says so."""
    data = {"name": _pictures(tmp_path / "pics", 64), "resolution": 8}
    Trainer(_config(data, eval_metric="kid"), tmp_path / "run", probe=QualityProbe()).fit()
    rows = [r for r in read_metrics(tmp_path / "run") if "quality/kid" in r]
    assert [r["step"] for r in rows] == [2, 4]
    assert rows[0]["quality/protocol"]["subset_size"] == 16
    assert rows[0]["quality/protocol"]["reference"]["n"] == 64


def test_the_reference_is_read_once_per_run(tmp_path, features, monkeypatch):
    """The probe keeps the reference it resolved when checking the settings: two evaluations of a folder run read
    the folder's reference once (and report its skipped files once), not once per evaluation."""
    from gankit.evaluation import table

    resolved = []
    real = table.resolve_reference
    monkeypatch.setattr(table, "resolve_reference", lambda *a: resolved.append(a[0]) or real(*a))
    data = {"name": _pictures(tmp_path / "pics", 64), "resolution": 8}
    Trainer(_config(data, eval_metric="kid"), tmp_path / "run", probe=QualityProbe()).fit()
    assert len([r for r in read_metrics(tmp_path / "run") if "quality/kid" in r]) == 2
    assert len(resolved) == 1, resolved


@pytest.mark.parametrize(
    "data, train, words",
    [
        ("folder", {"eval_metric": "fid_classifier"}, ["train.eval_metric=fid_classifier"]),
        ({"name": "digits"}, {"eval_reference": "digits:tset"}, ["train.eval_reference", "tset"]),
        (
            {"name": "gauss1d"},
            {"eval_metric": "jsd", "eval_reference": "gone.npz"},
            ["train.eval_reference=gone.npz"],
        ),
        ({"name": "grid25"}, {}, ["train.eval_metric=auto", "grid25"]),
    ],
    ids=["classifier-on-a-folder", "missing-split", "jsd-with-a-reference", "auto-without-metric"],
)
def test_training_settings_fail_before_the_first_step(tmp_path, no_features, data, train, words):
    if data == "folder":
        data = {"name": _pictures(tmp_path / "pics", 32), "resolution": 8}
    with pytest.raises(ConfigError) as error:
        Trainer(_config(data, **train), tmp_path / "run", probe=QualityProbe())
    _one_line(error, *words)
    assert not (tmp_path / "run").exists()


def test_eval_n_beyond_memory_fails_before_the_first_step(tmp_path, monkeypatch):
    monkeypatch.setattr("gankit.evaluation.settings.available_memory", lambda device: 2**30)
    cfg = _config({"name": "digits"}, eval_metric="fid_classifier", eval_n=2_000_000)
    with pytest.raises(ConfigError) as error:
        Trainer(cfg, tmp_path / "run", probe=QualityProbe())
    _one_line(error, "train.eval_n=2000000", "1.0 GiB")


def test_the_tracked_metric_defaults_to_the_first_that_applies(tmp_path):
    """gauss1d: `auto` is jsd; the run's config.yaml and metrics say jsd, so a resume tracks the same metric."""
    cfg = load_config("gauss1d", ["train.steps=40", "train.eval_every_kimg=5", "train.eval_n=200"])
    assert cfg.train.eval_metric == "auto"
    trainer = Trainer(cfg, tmp_path / "run", probe=QualityProbe())
    trainer.fit()
    assert trainer.cfg.train.eval_metric == "jsd" and trainer.quality.metric == "jsd"
    assert "eval_metric: jsd" in (tmp_path / "run" / "config.yaml").read_text()
    assert any("quality/jsd" in r for r in read_metrics(tmp_path / "run"))
    resumed = Trainer.resume(tmp_path / "run", ["train.steps=60"], probe=QualityProbe())
    assert resumed.quality.metric == "jsd" and resumed.quality.best == trainer.quality.best


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("digits") / "run"
    Trainer(quick_config(data={"name": "digits"}, train={"steps": 2}), run).fit()
    return run


def test_eval_kid_subset_follows_the_sizes(digits_run, features, tmp_path, capsys):
    out = tmp_path / "kid.json"
    args = ["eval", str(digits_run), "--n", "200", "--metrics", "kid", "--quiet"]
    assert main(args + ["--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    assert row["subset_size"] == row["protocol"]["subset_size"] == 200


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--metrics", "kid", "--kid-subset", "1000"], ["--kid-subset 1000", "200 generated"]),
        (["--metrics", "kid", "--kid-subset", "1"], ["--kid-subset must be at least 2"]),
        (["--metrics", "fid", "--reference", "digits:tset"], ["tset"]),
        (["--metrics", "classifier", "--reference", "IMAGES"], ["classifier", "digits"]),
        (["--metrics", "fid", "--inception", "gone.pt"], ["gone.pt"]),
        (["--out", "nowhere/eval.json"], ["--out", "nowhere"]),
    ],
    ids=["kid-subset", "kid-subset-1", "missing-split", "classifier-reference", "weights", "out"],
)
def test_eval_options_fail_before_the_first_sample(
    digits_run, no_features, monkeypatch, tmp_path, capsys, extra, words
):
    def no_samples(*args):
        raise AssertionError("samples were drawn before the options were checked")

    monkeypatch.setattr("gankit.evaluation.run.samples_from_run", no_samples)
    images = tmp_path / "images.npz"
    np.savez(images, x=np.zeros((300, 1, 8, 8), dtype=np.uint8))
    extra = [str(images) if a == "IMAGES" else a for a in extra]
    assert main(["eval", str(digits_run), "--n", "200", "--quiet", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err


def test_eval_n_beyond_memory_fails_before_the_first_sample(digits_run, monkeypatch, capsys):
    monkeypatch.setattr("gankit.evaluation.settings.available_memory", lambda device: 2**30)
    assert main(["eval", str(digits_run), "--n", "2000000", "--metrics", "classifier"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--n 2000000" in err[0] and "1.0 GiB" in err[0], err


def test_out_means_what_it_says(digits_run, tmp_path, capsys):
    """`gankit eval RUN --out F` writes F only; RUN/eval.json is written without --out."""
    out = tmp_path / "classifier.json"
    args = ["eval", str(digits_run), "--n", "50", "--metrics", "classifier", "--quiet"]
    assert main(args + ["--out", str(out)]) == 0
    assert json.loads(out.read_text())["rows"][0]["metric"] == "class_kl"
    assert not (digits_run / "eval.json").exists()
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(args) == 0 and (digits_run / "eval.json").is_file()
