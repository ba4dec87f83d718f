"""The paper's lr decay and momentum ramp, pylearn2's momentum rule, and the cosine ramps of long runs."""

import math

import pytest
import torch
from gankit_testkit import quick_config

from gankit.config import OptimConfig, from_dict
from gankit.errors import ConfigError
from gankit.models import build_models
from gankit.train import Trainer
from gankit.train.distributed import Ranks
from gankit.train.logger import read_metrics
from gankit.train.optim import MomentumSGD
from gankit.train.rng import make_streams
from gankit.train.schedules import (
    cosine_ramp,
    lr_at,
    momentum_at,
    optimiser_ramps,
    ramp_progress,
    write_ramps,
)
from gankit.train.tricks import BUILT_IN, Context, build_tricks

PAPER = OptimConfig(
    name="sgd",
    lr=0.1,
    lr_decay=1.000004,
    lr_floor=1e-6,
    momentum=0.5,
    momentum_final=0.7,
    momentum_start=1,
    momentum_saturate=250,
)


def test_lr_decays_by_paper_factor_per_update():
    assert lr_at(PAPER, 0) == 0.1
    assert lr_at(PAPER, 1) == pytest.approx(0.1 / 1.000004, rel=1e-12)
    assert lr_at(PAPER, 500_000) == pytest.approx(0.1 / 1.000004**500_000, rel=1e-9)  # ≈ 0.01353
    assert lr_at(PAPER, 500_000) == pytest.approx(0.013534, rel=1e-3)
    assert lr_at(PAPER, 10_000_000) == 1e-6  # the floor


def test_constant_lr_without_decay():
    assert lr_at(OptimConfig(lr=0.3), 10**6) == 0.3


def test_momentum_ramp_epochs_1_to_250():
    assert momentum_at(PAPER, 0) == 0.5
    assert momentum_at(PAPER, 1) == 0.5
    assert momentum_at(PAPER, 125) == pytest.approx(0.5 + 0.2 * 124 / 249)
    assert momentum_at(PAPER, 250) == pytest.approx(0.7)
    assert momentum_at(PAPER, 1000) == pytest.approx(0.7)


def test_momentum_sgd_follows_pylearn2_rule():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = MomentumSGD([p], lr=0.1, momentum=0.5)
    v = torch.zeros(2)
    expected = p.detach().clone()
    for lr, g in ((0.1, torch.tensor([1.0, 2.0])), (0.05, torch.tensor([-3.0, 0.5]))):
        opt.param_groups[0]["lr"] = lr
        p.grad = g.clone()
        opt.step()
        v = 0.5 * v - lr * g
        expected = expected + v
    assert torch.allclose(p.detach(), expected)


# --- cosine ramps (train.ramp_kimg and the *_final settings) ---


def test_cosine_ramp_by_hand():
    assert cosine_ramp(1.0, 0.2, 0.0) == 1.0 and cosine_ramp(1.0, 0.2, 1.0) == pytest.approx(0.2)
    # half-way in value at half-way in images
    assert cosine_ramp(1.0, 0.2, 0.5) == pytest.approx(0.6)
    assert cosine_ramp(1.0, 0.2, 0.25) == pytest.approx(0.2 + 0.8 * (1 + math.cos(math.pi / 4)) / 2)
    assert cosine_ramp(0.7, None, 0.5) == 0.7
    assert (
        ramp_progress(2.0, 500) == 0.25
        and ramp_progress(2.0, 10**6) == 1.0
        and ramp_progress(0.0, 0) == 1.0
    )


RAMPS = from_dict(
    {
        "optim": {"name": "adam", "lr": 2e-4, "lr_final": 5e-5, "beta2": 0.9, "beta2_final": 0.99},
        "objective": {"r1": 1.0, "penalty_final": 0.1},
        "train": {
            "steps": 1,
            "ramp_kimg": 4,
            "ema_half_life_kimg": 0.5,
            "ema_half_life_final_kimg": 5,
            "augment": "translation",
            "augment_p": 0.0,
            "augment_p_final": 0.6,
        },
    }
)


def ramped(cfg, nimg: int) -> dict[str, float]:
    """What a run of ``cfg`` writes before a step after ``nimg`` images: the optimisers' ramped values and those of
    its tricks (built on a small image pair)."""
    G, D = build_models(cfg.model, sample_shape=(1, 8, 8), kind="image")
    tricks = build_tricks(
        Context(cfg, G, D, make_streams(0, torch.device("cpu")), Ranks()), BUILT_IN
    )
    progress = ramp_progress(cfg.train.ramp_kimg, nimg)
    return {**optimiser_ramps(cfg.optim, progress), **write_ramps(tricks.ramps(), progress)}


@pytest.mark.parametrize(
    "nimg, progress", [(0, 0.0), (1000, 0.25), (2000, 0.5), (4000, 1.0), (9000, 1.0)]
)
def test_ramped_values_follow_the_counters(nimg, progress):
    got = ramped(RAMPS, nimg)
    assert got["lr_factor"] == pytest.approx(cosine_ramp(1.0, 0.25, progress))
    assert got["beta2"] == pytest.approx(cosine_ramp(0.9, 0.99, progress))
    assert got["penalty_scale"] == pytest.approx(cosine_ramp(1.0, 0.1, progress))
    assert got["ema_half_life_kimg"] == pytest.approx(cosine_ramp(0.5, 5.0, progress))
    assert got["augment_p"] == pytest.approx(cosine_ramp(0.0, 0.6, progress))


def test_without_final_settings_nothing_moves():
    """No ``*_final`` setting: the optimisers' values stay, and no trick has a ramp to write or log."""
    assert ramped(from_dict({"train": {"steps": 1, "ramp_kimg": 1}}), 700) == {
        "lr_factor": 1.0,
        "beta2": 0.999,
    }


@pytest.mark.parametrize(
    "section, key, value, match",
    [
        ("optim", "lr_final", 1e-5, "optim.lr_final is set but train.ramp_kimg is 0"),
        (
            "objective",
            "penalty_final",
            0.5,
            "objective.penalty_final is set but train.ramp_kimg is 0",
        ),
        ("train", "augment_p_final", 0.5, "train.augment_p_final is set but train.ramp_kimg is 0"),
    ],
)
def test_a_final_value_without_a_ramp_is_a_one_line_error(section, key, value, match):
    sections = {"train": {"steps": 1}}
    sections.setdefault(section, {})[key] = value
    with pytest.raises(ConfigError, match=match):
        from_dict(sections)
    with pytest.raises(ConfigError, match="needs an EMA"):
        from_dict({"train": {"steps": 1, "ramp_kimg": 1, "ema_half_life_final_kimg": 2}})


def test_the_trainer_writes_every_ramp(tmp_path, tiny_images):
    """After 5 steps (200 images of 20 × (k + 1); ramp 0.4 kimg: progress ½) the optimisers, the penalty scale, the
    augmentation probability and the EMA hold the ramps' half-way values, and the log shows them."""
    cfg = quick_config(
        model={"arch": "mlp", "hidden": 16},
        objective={"loss": "rpgan", "r1": 1.0, "penalty_final": 0.2},
        optim={
            "name": "adam",
            "lr": 1e-3,
            "lr_decay": 1.0,
            "lr_final": 2e-4,
            "beta2": 0.9,
            "beta2_final": 0.99,
        },
        train={
            "steps": 5,
            "log_every": 1,
            "ramp_kimg": 0.4,
            "ema_half_life_kimg": 0.1,
            "ema_half_life_final_kimg": 0.3,
        },
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    trainer.fit()
    rows = read_metrics(tmp_path / "run")
    at = ramped(cfg, 160)  # the values written before the 5th step, after 4 × 40 images
    assert rows[-1]["lr"] == pytest.approx(1e-3 * at["lr_factor"], rel=1e-5)  # logged in float32
    assert rows[-1]["beta2"] == pytest.approx(at["beta2"], rel=1e-6)
    assert rows[-1]["penalty_scale"] == pytest.approx(at["penalty_scale"], rel=1e-6)
    assert trainer.players.opt_d.param_groups[0]["betas"][1] == pytest.approx(at["beta2"])
    assert trainer.tricks["penalty"].scale.item() == pytest.approx(at["penalty_scale"])
    assert trainer.ema.half_life_img == pytest.approx(1000 * at["ema_half_life_kimg"])
    assert rows[0]["lr"] == pytest.approx(1e-3) and rows[0]["penalty_scale"] == 1.0
