"""The CLI end to end on tiny data: one-line errors with non-zero exit and no half-written run; sampling."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from gankit.cli import main

QUICK = [
    "--set",
    "train.steps=6",
    "--set",
    "train.log_every=2",
    "--set",
    "train.sample_every=3",
    "--set",
    "train.checkpoint_every=3",
    "--set",
    "data.n_samples=500",
    "--quiet",
]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("gankit: error: ")
    return err[0]


def _run_dir_untouched(path: Path) -> bool:
    return not path.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "no-such-preset"], "unknown preset 'no-such-preset'"),
        (["train", "gauss1d", "--set", "train.stepz=3"], "unknown config key train.stepz"),
        (["train", "gauss1d", "--set", "train.steps=many"], "train.steps: expected int"),
        (["train", "gauss1d", "--set", "optim.lr=-1"], "optim.lr: -1.0 is out of range"),
        (
            ["train", "gauss1d", "--set", "data.name=nowhere"],
            "data.name 'nowhere' is unknown; choices: ",
        ),
        (["train", "gauss1d", "--set", "model.arch=paper-mlp"], "paper-mlp is for images"),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    assert main(argv + ["--run-dir", str(run)]) == 1
    assert message in _error_line(capsys)
    assert _run_dir_untouched(run)


def test_missing_dataset_says_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    run = tmp_path / "run"
    assert (
        main(["train", "paper-mnist", "--data-dir", str(tmp_path / "empty"), "--run-dir", str(run)])
        == 1
    )
    line = _error_line(capsys)
    assert "mnist" in line and str(tmp_path / "empty") in line and "--download" in line
    assert _run_dir_untouched(run)


def _idx_images(path: Path, n: int, payload: bytes | None = None, magic: int = 0x00000803) -> None:
    header = struct.pack(">IIII", magic, n, 28, 28)
    path.write_bytes(gzip.compress(header + (payload if payload is not None else bytes(n * 784))))


@pytest.mark.parametrize("defect", ["bad magic", "truncated"])
def test_bad_idx_file_is_one_line_and_leaves_no_run(tmp_path, capsys, monkeypatch, defect):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "data" / "mnist"
    root.mkdir(parents=True)
    _idx_images(root / "t10k-images-idx3-ubyte.gz", 10000)
    for name, n in (("train-labels-idx1-ubyte.gz", 60000), ("t10k-labels-idx1-ubyte.gz", 10000)):
        (root / name).write_bytes(gzip.compress(struct.pack(">II", 0x00000801, n) + bytes(n)))
    if defect == "bad magic":
        _idx_images(root / "train-images-idx3-ubyte.gz", 60000, magic=0x00000804)
    else:
        _idx_images(root / "train-images-idx3-ubyte.gz", 60000, payload=bytes(1000))
    run = tmp_path / "run"
    assert (
        main(["train", "paper-mnist", "--data-dir", str(tmp_path / "data"), "--run-dir", str(run)])
        == 1
    )
    line = _error_line(capsys)
    assert "train-images-idx3-ubyte" in line
    assert (
        ("magic" in line)
        if defect == "bad magic"
        else ("truncated" in line or "short" in line or "bytes" in line)
    )
    assert _run_dir_untouched(run)


def test_train_then_sample_is_byte_identical(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "gauss1d", "--run-dir", str(run)] + QUICK) == 0
    assert (run / "config.yaml").is_file() and (run / "metrics.jsonl").is_file()
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000000006"
    outs = []
    for i in range(2):
        png, npz = tmp_path / f"s{i}.png", tmp_path / f"s{i}.npz"
        assert (
            main(
                [
                    "sample",
                    str(run),
                    "--n",
                    "50",
                    "--seed",
                    "7",
                    "--out",
                    str(png),
                    "--npz",
                    str(npz),
                ]
            )
            == 0
        )
        outs.append((png.read_bytes(), npz.read_bytes()))
    assert outs[0] == outs[1]
    assert (
        main(["sample", str(run), "--n", "50", "--seed", "8", "--npz", str(tmp_path / "s8.npz")])
        == 0
    )
    assert (tmp_path / "s8.npz").read_bytes() != outs[0][1]
    import numpy as np

    x = np.load(tmp_path / "s0.npz")["x"]
    assert x.shape == (50, 1) and x.dtype == np.float32


def test_a_time_budget_with_the_progress_bar_ends_cleanly(tmp_path, capsys):
    """`train.minutes` alone gives the bar no total; closing it must not fail after the run is saved."""
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "gauss1d",
                "--run-dir",
                str(run),
                "--set",
                "train.steps=null",
                "--set",
                "train.epochs=null",
                "--set",
                "train.minutes=0.01",
                "--set",
                "data.n_samples=600",
            ]
        )
        == 0
    )
    assert (run / "checkpoints" / "latest").is_file()
    assert "Traceback" not in capsys.readouterr().err


def test_resume_continues_and_an_existing_run_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "gauss1d", "--run-dir", str(run)] + QUICK
    assert main(args) == 0
    assert main(["train", "--resume", str(run), "--set", "train.steps=9", "--quiet"]) == 0
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000000009"
    capsys.readouterr()
    assert main(["train", "gauss1d", "--run-dir", str(run), "--quiet"]) == 1  # refuses to overwrite
    assert "exists and is not empty" in _error_line(capsys)


IMAGE_QUICK = [
    "--set",
    "train.steps=4",
    "--set",
    "train.batch_size=16",
    "--set",
    "train.sample_every=2",
    "--set",
    "train.checkpoint_every=2",
    "--set",
    "train.grid_size=4",
    "--quiet",
]


def test_sample_image_run_and_resume(tmp_path):
    """An image run (the 8×8 digits, --data, upscaled to 16×16 RGB) samples a PNG grid and uint8 images of the
    trained shape, and sampling changes once a resumed run has trained on."""
    import numpy as np
    from PIL import Image

    run, out = tmp_path / "run", tmp_path / "s"
    assert (
        main(
            [
                "train",
                "quickstart",
                "--data",
                "digits",
                "--set",
                "data.resolution=16",
                "--set",
                "data.channels=rgb",
                "--run-dir",
                str(run),
            ]
            + IMAGE_QUICK
        )
        == 0
    )
    assert (
        main(["sample", str(run), "--n", "9", "--out", f"{out}0.png", "--npz", f"{out}0.npz"]) == 0
    )
    x = np.load(f"{out}0.npz")["x"]
    assert x.shape == (9, 3, 16, 16) and x.dtype == np.uint8 and x.std() > 0
    assert Image.open(f"{out}0.png").mode == "RGB"
    assert main(["train", "--resume", str(run), "--set", "train.steps=6", "--quiet"]) == 0
    assert (
        main(["sample", str(run), "--n", "9", "--out", f"{out}1.png", "--npz", f"{out}1.npz"]) == 0
    )
    assert not np.array_equal(np.load(f"{out}1.npz")["x"], x)


@pytest.mark.parametrize("preset", ["folder64", "pictures64"])
def test_folder_preset_trains_on_a_folder_of_pictures(tmp_path, preset):
    """`gankit train PRESET --data folder:PATH`: pictures of any size and mode become 64×64 RGB, and the run's
    samples have that shape (a narrow model and 2 steps keep it short)."""
    import numpy as np
    from PIL import Image

    pics, run = tmp_path / "pics", tmp_path / "run"
    pics.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        mode, size = ("RGB", (80, 60)) if i % 2 else ("L", (50, 70))
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(pics / f"{i}.png")
    assert (
        main(
            [
                "train",
                preset,
                "--data",
                f"folder:{pics}",
                "--set",
                "model.width=4",
                "--set",
                "train.nimg=null",
                "--run-dir",
                str(run),
            ]
            + IMAGE_QUICK[:-1]
            + ["--set", "train.steps=2", "--quiet"]
        )
        == 0
    )
    assert main(["sample", str(run), "--n", "2", "--npz", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["x"].shape == (2, 3, 64, 64)


def test_data_option_is_data_name_given_once(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "quickstart",
                "--data",
                "folder:~/no-such-folder-for-gankit",
                "--run-dir",
                str(run),
            ]
        )
        == 1
    )
    line = _error_line(capsys)
    assert "no such folder" in line and "~" not in line.split("no such folder")[1]  # ~ expanded
    assert (
        main(
            [
                "train",
                "quickstart",
                "--data",
                "digits",
                "--set",
                "data.name=mnist5k",
                "--run-dir",
                str(run),
            ]
        )
        == 1
    )
    assert "give the data source once" in _error_line(capsys)
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "notes.txt").write_text("no image here")
    assert (
        main(
            ["train", "quickstart", "--data", f"folder:{tmp_path / 'pics'}", "--run-dir", str(run)]
        )
        == 1
    )
    assert "no images" in _error_line(capsys) and _run_dir_untouched(run)


def test_settings_without_effect_are_named(tmp_path, capsys):
    assert main(["config", "fashion-ns-r1", "--set", "optim.momentum=0.9"]) == 0
    captured = capsys.readouterr()
    assert (
        "optim.momentum=0.9 has no effect: it applies when optim.name is sgd (here adam)"
        in captured.err
    )
    assert "momentum" not in captured.out.split("# not shown")[0] and "beta1: 0.5" in captured.out
    assert (
        main(["train", "gauss1d", "--data", "ring8", "--run-dir", str(tmp_path / "r")] + QUICK) == 0
    )
    assert "data.mean=1.5 has no effect" in capsys.readouterr().err


def test_configuration_page_is_current():
    """docs/configuration.md is `gankit config --keys`; regenerate it with `gankit config --keys >
    docs/configuration.md` after changing a config field."""
    from gankit.config_doc import keys_markdown

    page = Path(__file__).parents[1] / "docs" / "configuration.md"
    assert page.read_text(encoding="utf-8") == keys_markdown()


def test_sample_errors(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nope")]) == 1
    assert "does not exist" in _error_line(capsys)
    assert main(["sample", str(tmp_path), "--n", "0"]) == 1
    assert "--n must be at least 1" in _error_line(capsys)


def test_config_and_datasets_commands(capsys):
    assert main(["config", "paper-mnist", "--set", "train.seed=5"]) == 0
    out = capsys.readouterr().out
    assert "lr_decay: 1.000004" in out and "seed: 5" in out
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in (
        "gauss1d",
        "ring8",
        "grid25",
        "mnist",
        "fashion-mnist",
        "cifar10",
        "digits",
        "mnist5k",
        "points:PATH",
        "folder:PATH",
    ):
        assert name in out


def test_console_script_exit_code_and_debug_traceback(tmp_path):
    env = {**os.environ, "GANKIT_DEBUG": "0"}
    r = subprocess.run(
        [sys.executable, "-m", "gankit.cli", "train", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    env["GANKIT_DEBUG"] = "1"
    r = subprocess.run(
        [sys.executable, "-m", "gankit.cli", "train", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 1 and "Traceback" in r.stderr
