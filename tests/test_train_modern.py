"""Modern objectives, penalties, EMA, spectral norm, TTUR and DiffAugment inside the Algorithm 1 loop."""

from __future__ import annotations

import pytest
import torch
from gankit_testkit import quick_config, same_checkpoints, saved_checkpoint

from gankit.train import Trainer
from gankit.train.logger import read_metrics


@pytest.mark.parametrize("loss", ["gan", "lsgan", "wgan", "hinge", "ragan", "rpgan"])
def test_every_objective_trains(tmp_path, tiny_images, loss):
    trainer = Trainer(
        quick_config(objective={"loss": loss}, train={"steps": 3}),
        tmp_path / "run",
        dataset=tiny_images,
    )
    before = [p.detach().clone() for p in trainer.G.parameters()]
    row = trainer.fit()
    assert all(torch.isfinite(torch.tensor(v)) for k, v in row.items() if isinstance(v, float))
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))
    # the relativistic G step also sees a real batch
    per_step = 2 if loss in ("ragan", "rpgan") else 1
    assert trainer.nimg == 3 * 20 * per_step


def test_penalties_are_logged_and_lazy(tmp_path, tiny_images):
    cfg = quick_config(
        objective={"loss": "wgan", "gp": 10.0, "r1": 1.0, "reg_every": 2},
        train={"steps": 4, "log_every": 1},
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    trainer.fit()
    rows = read_metrics(tmp_path / "run")
    assert [("penalty" in r) for r in rows] == [True, False, True, False]  # every 2nd D update
    assert all(r["penalty"] > 0 for r in rows if "penalty" in r)


def test_weight_clipping_bounds_d(tmp_path, tiny_images):
    trainer = Trainer(
        quick_config(objective={"loss": "wgan", "clip": 0.003}, optim={"lr": 0.5}),
        tmp_path / "run",
        dataset=tiny_images,
    )
    trainer.fit()
    assert max(p.abs().max().item() for p in trainer.D.parameters()) <= 0.003 + 1e-9


def test_ttur_logs_both_rates(tmp_path, tiny_images):
    Trainer(
        quick_config(optim={"name": "adam", "lr": 1e-4, "lr_d": 4e-4, "lr_decay": 1.0}),
        tmp_path / "run",
        dataset=tiny_images,
    ).fit()
    row = read_metrics(tmp_path / "run")[-1]
    assert row["lr"] == 4e-4 and row["lr_g"] == 1e-4


def test_spectral_norm_on_d(tmp_path, tiny_images):
    trainer = Trainer(
        quick_config(model={"spectral_norm": True}), tmp_path / "run", dataset=tiny_images
    )
    trainer.fit()
    assert any("parametrizations" in k for k in saved_checkpoint(tmp_path / "run"))


def test_ema_is_saved_and_used_for_sampling(tmp_path, tiny_images):
    from gankit.train.restore import load_generator

    cfg = quick_config(
        optim={"name": "adam", "lr": 1e-3, "lr_decay": 1.0}, train={"ema_half_life_kimg": 0.05}
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    trainer.fit()
    tensors = saved_checkpoint(tmp_path / "run")
    key = "net.0.weight"
    assert torch.equal(tensors[f"G_ema.{key}"], trainer.ema.shadow.state_dict()[key])
    assert not torch.equal(tensors[f"G_ema.{key}"], tensors[f"G.{key}"])
    G, _, _ = load_generator(tmp_path / "run")
    assert torch.equal(G.state_dict()[key], tensors[f"G_ema.{key}"])


def test_resume_is_bit_identical_with_every_extra(tmp_path, tiny_images):
    extra = dict(
        objective={"loss": "hinge", "gp": 1.0, "r2": 0.5, "reg_every": 2},
        model={"spectral_norm": True},
        train={
            "ema_half_life_kimg": 0.1,
            "augment": "color,translation,cutout",
            "checkpoint_every": 100,
        },
    )
    cfg16 = quick_config(**{**extra, "train": {**extra["train"], "steps": 16}})
    cfg8 = quick_config(**{**extra, "train": {**extra["train"], "steps": 8}})
    Trainer(cfg16, tmp_path / "one", dataset=tiny_images).fit()
    Trainer(cfg8, tmp_path / "two", dataset=tiny_images).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=16"], dataset=tiny_images).fit()
    one = same_checkpoints(tmp_path / "one", tmp_path / "two")
    assert any(k.startswith("G_ema.") for k in one)


def test_lazy_penalty_mean_is_over_the_steps_that_computed_it(tmp_path, tiny_images):
    """With log_every 4 and reg_every 2 the logged penalty averages the 2 updates that computed it (not 4)."""
    one = Trainer(
        quick_config(
            objective={"loss": "wgan", "gp": 10.0, "reg_every": 2},
            train={"steps": 4, "log_every": 1},
        ),
        tmp_path / "a",
        dataset=tiny_images,
    )
    one.fit()
    every = [r["penalty"] for r in read_metrics(tmp_path / "a") if "penalty" in r]
    four = Trainer(
        quick_config(
            objective={"loss": "wgan", "gp": 10.0, "reg_every": 2},
            train={"steps": 4, "log_every": 4},
        ),
        tmp_path / "b",
        dataset=tiny_images,
    )
    four.fit()
    (row,) = read_metrics(tmp_path / "b")
    assert row["penalty"] == pytest.approx(sum(every) / len(every), rel=1e-5)
