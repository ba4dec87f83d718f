"""The paper's lr decay and momentum ramp, and pylearn2's momentum rule."""

import pytest
import torch

from gankit.config import OptimConfig
from gankit.train.optim import MomentumSGD
from gankit.train.schedules import lr_at, momentum_at

PAPER = OptimConfig(name="sgd", lr=0.1, lr_decay=1.000004, lr_floor=1e-6, momentum=0.5, momentum_final=0.7,
                    momentum_start=1, momentum_saturate=250)


def test_lr_decays_by_paper_factor_per_update():
    assert lr_at(PAPER, 0) == 0.1
    assert lr_at(PAPER, 1) == pytest.approx(0.1 / 1.000004, rel=1e-12)
    assert lr_at(PAPER, 500_000) == pytest.approx(0.1 / 1.000004 ** 500_000, rel=1e-9)  # ≈ 0.01353
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
