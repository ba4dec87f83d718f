"""Nothing lost, nothing loaded wrong: unreadable checkpoints stop a resume and change nothing, the checkpoint's JSON
is under its checksum, no checkpoint holds NaN/Inf, exploded losses count as divergence, sizes that cannot fit are
refused before allocation, and a torn last line of metrics.jsonl does not break the readers (docs/reliability.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path

import pytest
import torch
from gankit_testkit import quick_config
from safetensors.torch import save as st_save

from gankit.cli import main
from gankit.errors import CheckpointError, RunDirError
from gankit.train import Trainer
from gankit.train import checkpoint as ckpt
from gankit.train.guard import read_doctor
from gankit.train.logger import read_metrics

RING8 = [
    "--device",
    "cpu",
    "--quiet",
    "--set",
    "data.n_samples=2048",
    "--set",
    "train.snapshot_every=0",
    "--set",
    "train.sample_every=100000",
    "--set",
    "model.hidden=64",
    "--set",
    "model.layers=2",
]


def _hashes(run: Path) -> dict[str, str]:
    """Every file under ``run`` (relative path → SHA-256)."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


def _ring8_run(tmp_path: Path, steps: int = 40, *more: str) -> Path:
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "ring8",
                "--run-dir",
                str(run),
                "--set",
                f"train.steps={steps}",
                "--set",
                "train.checkpoint_every=10",
                "--set",
                "train.log_every=10",
                *RING8,
                *more,
            ]
        )
        == 0
    )
    return run


def test_all_checkpoints_damaged_stops_the_resume_and_changes_nothing(tmp_path, capsys):
    """The issue's case: every .safetensors truncated to 100 bytes. Resume and sample both refuse, in one line, and
    the folder is byte-for-byte what it was; --restart then moves the old history aside, deleting nothing."""
    run = _ring8_run(tmp_path)
    for blob in (run / "checkpoints").glob("*.safetensors"):
        blob.write_bytes(blob.read_bytes()[:100])
    before = _hashes(run)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--set", "train.steps=45", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none is readable" in err and "nothing was changed" in err
    assert "--restart" in err and "step-000000040" in err
    assert _hashes(run) == before
    assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "s.png")]) == 1
    assert "holds no readable checkpoint" in capsys.readouterr().err
    assert _hashes(run) == before
    assert (
        main(["train", "--resume", str(run), "--restart", "--set", "train.steps=20", "--quiet"])
        == 0
    )
    aside = run / "before-restart-1"
    assert {
        f"before-restart-1/{k}": v for k, v in before.items() if k != "config.yaml"
    }.items() <= _hashes(run).items()
    assert (run / "config.yaml").read_text() != "" and ckpt.load(run / "checkpoints").meta[
        "step"
    ] == 20
    assert aside.is_dir() and [r["step"] for r in read_metrics(run)][-1] == 20


def test_restart_needs_resume(capsys):
    assert main(["train", "--restart", "--quiet"]) == 1
    assert "--restart goes with --resume" in capsys.readouterr().err


@pytest.mark.parametrize("edit", [("lr_scale", 9.0), ("step", 999), ("flip", None)])
def test_edited_checkpoint_json_falls_back_to_the_previous(tmp_path, tiny_images, caplog, edit):
    """Editing a counter in the JSON (or one bit of it, leaving valid JSON) is detected like damaged tensors."""
    run = tmp_path / "run"
    Trainer(
        quick_config(train={"steps": 12, "checkpoint_every": 4}), run, dataset=tiny_images
    ).fit()
    path = run / "checkpoints" / "step-000000012.json"
    key, value = edit
    if key == "flip":
        text = path.read_text()
        at = text.index('"elapsed_s": ') + len('"elapsed_s": ')
        # a digit stays a digit
        path.write_text(text[:at] + chr(ord(text[at]) ^ 0x01) + text[at + 1 :])
    else:
        meta = json.loads(path.read_text())
        meta[key] = value
        path.write_text(json.dumps(meta, indent=1, sort_keys=True))
    json.loads(path.read_text())  # still valid JSON
    with caplog.at_level(logging.WARNING):
        trainer = Trainer.resume(run, ["train.steps=16"], dataset=tiny_images)
    assert "skipping checkpoint step-000000012" in caplog.text and "meta_sha256" in caplog.text
    assert trainer.step == 8 and trainer.lr_scale == 1.0


def test_lr_1000_leaves_no_nonfinite_checkpoint_and_the_policy_acts(tmp_path, capsys):
    """The issue's command: Adam at lr 1000 on ring8. Losses reach ~1e35 with finite values and Adam's second
    moments overflow to Inf; both count as divergence, so the run rolls back three times at halved learning rates,
    then stops with an error, and no checkpoint it leaves holds a non-finite number."""
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "ring8",
            "--run-dir",
            str(run),
            "--set",
            "optim.lr=1000",
            "--set",
            "train.steps=300",
            "--set",
            "train.checkpoint_every=20",
            *RING8,
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "training diverged" in err and "gave up after 3 rollbacks" in err
    kinds = [n["kind"] for n in read_doctor(run)]
    assert kinds.count("rollback") == 3 and kinds[-1] == "diverged"
    names = ckpt.present(run / "checkpoints")
    assert names
    for name in names:
        # load verifies finiteness too; check again independently
        c = ckpt.load(run / "checkpoints", name)
        assert all(torch.isfinite(v).all() for v in c.tensors.values() if v.is_floating_point())


def test_exploded_loss_is_divergence(tmp_path, tiny_images):
    """A finite loss beyond train.max_abs_loss counts like a NaN (D's logits shifted by 1e7 from the 15th call:
    softplus(1e7) = 1e7 is finite)."""
    cfg = quick_config(
        train={"steps": 12, "log_every": 1, "checkpoint_every": 5, "on_divergence": "stop"}
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    calls = []
    trainer.D.register_forward_hook(
        lambda m, i, out: out + (1e7 if calls.append(1) or len(calls) >= 15 else 0)
    )
    with pytest.raises(
        Exception, match=r"exploded d_loss .* \(beyond ±1e\+06, train.max_abs_loss\)"
    ):
        trainer.fit()
    assert ckpt.load(tmp_path / "run" / "checkpoints").meta["step"] == 5


def _crafted_nan_checkpoint(run: Path) -> str:
    """Rewrites the latest checkpoint with NaN in one G weight and checksums that match (a checkpoint a buggy or
    hostile writer made); returns its name."""
    folder = run / "checkpoints"
    good = ckpt.load(folder)
    tensors = dict(good.tensors)
    name = next(k for k in tensors if k.startswith("G.") and k.endswith("weight"))
    tensors[name] = torch.full_like(tensors[name], float("nan"))
    blob = st_save(tensors)
    (folder / f"{good.name}.safetensors").write_bytes(blob)
    meta = {**good.meta, "sha256": hashlib.sha256(blob).hexdigest()}
    meta["meta_sha256"] = ckpt.canonical_digest(meta)
    (folder / f"{good.name}.json").write_text(json.dumps(meta))
    return good.name


def test_nonfinite_checkpoint_is_not_last_good(tmp_path, tiny_images, caplog, capsys):
    run = tmp_path / "run"
    Trainer(quick_config(train={"steps": 8, "checkpoint_every": 4}), run, dataset=tiny_images).fit()
    name = _crafted_nan_checkpoint(run)
    with pytest.raises(CheckpointError, match="holds non-finite values"):
        ckpt.load(run / "checkpoints", name)
    with caplog.at_level(logging.WARNING):
        assert ckpt.load_latest_good(run / "checkpoints").meta["step"] == 4
    assert (
        main(
            ["sample", str(run), "--checkpoint", "8", "--n", "4", "--out", str(tmp_path / "s.png")]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "non-finite values" in err
    with pytest.raises(CheckpointError, match="non-finite values in G"):
        ckpt.save(tmp_path / "c", 1, {"G.w": torch.tensor([float("inf")])}, {}, keep=1)
    assert not (tmp_path / "c").exists()


def test_sample_refuses_a_generator_with_nonfinite_output(tmp_path, tiny_images):
    from gankit.train.restore import load_generator, sample

    run = tmp_path / "run"
    Trainer(quick_config(train={"steps": 4}), run, dataset=tiny_images).fit()
    G, _, _ = load_generator(run)
    G.register_forward_hook(lambda m, i, out: out.index_fill(0, torch.tensor([1]), float("nan")))
    with pytest.raises(RunDirError, match=r"non-finite values \(NaN/Inf\) in 1 of 4 samples"):
        sample(G, 4, seed=0)


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.hidden=100000000", "model.hidden=100000000"),
        ("model.z_dim=1000000000", "model.z_dim=1000000000"),
        ("data.n_samples=10000000000", "data.n_samples=10000000000"),
        ("model.hidden=30000 model.layers=6", "model.hidden=30000"),
    ],
)
def test_sizes_that_cannot_fit_are_one_line(tmp_path, capsys, override, key):
    """Each needs from ~180 GiB to ~8e8 GiB; refused from the config before any allocation, naming the key."""
    sets = [a for item in override.split() for a in ("--set", item)]
    assert main(["train", "ring8", "--run-dir", str(tmp_path / "run"), "--quiet", *sets]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and err.startswith(f"gankit: error: {key}")
        and "available" in err
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("preset, optim", [("gauss1d", "adam"), ("quickstart", "sgd")])
def test_free_space_check_uses_the_real_checkpoint_size(tmp_path, preset, optim):
    """The estimate made before training is at least the size of a checkpoint written after it began (the
    optimiser's moments and the sampler's permutation exist only then), and not far above it."""
    from gankit.config import load_config

    overrides = [
        "train.steps=1",
        f"optim.name={optim}",
        "train.sample_every=100000",
        "train.snapshot_every=0",
    ]
    trainer = Trainer(load_config(preset, overrides), tmp_path / "run")
    estimate = trainer.checkpoint_bytes()
    trainer.fit()
    written = sum(
        (tmp_path / "run" / "checkpoints" / f"step-000000001.{ext}").stat().st_size
        for ext in ("safetensors", "json")
    )
    assert written <= estimate <= 1.25 * written + 65536


def test_full_disk_names_the_file_and_the_way_on(tmp_path, tiny_images, monkeypatch):
    from gankit.train import checkpoint

    run = tmp_path / "run"
    trainer = Trainer(
        quick_config(train={"steps": 8, "checkpoint_every": 4}), run, dataset=tiny_images
    )
    real = checkpoint.write_atomic

    def full(path, data):
        if "step-000000008" in str(path):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(checkpoint, "write_atomic", full)
    with pytest.raises(RunDirError) as e:
        trainer.fit()
    message = str(e.value)
    assert "step-000000008.safetensors: No space left on device" in message
    assert "step-000000004, is intact" in message and f"gankit train --resume {run}" in message
    assert ckpt.load(run / "checkpoints").meta["step"] == 4


def test_write_atomic_names_the_file_it_could_not_write(tmp_path):
    from gankit.fileio import write_atomic

    with pytest.raises(OSError) as e:
        write_atomic(tmp_path / "missing-folder" / "x.bin", b"1")
    assert e.value.filename == str(tmp_path / "missing-folder" / "x.bin")


def test_torn_last_metrics_line_is_skipped_by_report_and_figures(tmp_path, caplog, capsys):
    """A crash mid-append leaves a last line without its newline: report and figures work and warn, naming the
    file and line; a malformed line elsewhere is a one-line error naming them."""
    run = _ring8_run(tmp_path, 20, "--set", "train.snapshot_every=10")
    metrics = run / "metrics.jsonl"
    rows = metrics.read_text().splitlines()
    metrics.write_text("\n".join(rows) + "\n" + rows[-1][: len(rows[-1]) // 2])
    with caplog.at_level(logging.WARNING):
        assert main(["report", str(run)]) == 0
        assert main(["figures", str(run)]) == 0
    assert f"{metrics}, line {len(rows) + 1}: cut short" in caplog.text
    metrics.write_text(rows[0] + "\n" + rows[1][:40] + "\n" + rows[1] + "\n")
    capsys.readouterr()
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{metrics}, line 2: not a JSON row" in err


def test_canonical_digest_covers_every_value():
    meta = {"step": 3, "lr_scale": 1.0, "config": {"optim": {"lr": 2e-4}}, "sha256": "ab"}
    digest = ckpt.canonical_digest(meta)
    # layout does not matter
    assert digest == ckpt.canonical_digest(json.loads(json.dumps(meta, indent=3)))
    assert digest == ckpt.canonical_digest({**meta, "meta_sha256": "anything"})
    for changed in (
        {**meta, "step": 4},
        {**meta, "sha256": "ac"},
        {**meta, "config": {"optim": {"lr": 3e-4}}},
    ):
        assert ckpt.canonical_digest(changed) != digest
    assert ckpt.nonfinite({}, {"a": [1.0, math.inf], "b": {"c": math.nan}}) == ["a.1", "b.c"]


def test_a_format_1_checkpoint_still_reads_with_a_warning(tmp_path, tiny_images, caplog):
    """Checkpoints written before the JSON had its own checksum (format 1) resume, with a warning; a format-2 JSON
    whose checksum is merely removed does not pass for one."""
    run = tmp_path / "run"
    Trainer(quick_config(train={"steps": 4, "checkpoint_every": 4}), run, dataset=tiny_images).fit()
    path = run / "checkpoints" / "step-000000004.json"
    meta = json.loads(path.read_text())
    del meta["meta_sha256"]
    path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match its own SHA-256"):
        ckpt.load(run / "checkpoints")
    path.write_text(json.dumps({**meta, "format_version": 1}))
    with caplog.at_level(logging.WARNING):
        assert ckpt.load(run / "checkpoints").meta["step"] == 4
    assert "predates checkpoint format 2" in caplog.text
