"""EMA of G's weights (Karras et al. 2018/2020 half-life convention)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.train.ema import EMA


class _One(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([0.0], dtype=torch.float64))
        self.register_buffer("count", torch.zeros(1))


def test_shadow_is_frozen_copy() -> None:
    model = nn.Linear(3, 2)
    ema = EMA(model, half_life_img=100)
    assert not ema.shadow.training
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    assert ema.shadow.weight.data_ptr() != model.weight.data_ptr()
    torch.testing.assert_close(ema.shadow.weight, model.weight, rtol=0, atol=0)


def test_closed_form_constant_beta() -> None:
    model = _One()
    ema = EMA(model, half_life_img=10.0, rampup=None)
    bs, n = 4, 7
    beta = ema.beta(bs, nimg=1000)
    assert beta == pytest.approx(0.5 ** (4 / 10))
    seq = [float(k * k - 3 * k + 1) for k in range(1, n + 1)]  # param values p_1..p_n
    for k, v in enumerate(seq, start=1):
        model.w.data.fill_(v)
        ema.update(model, batch_size=bs, nimg=k * bs)
    # s_n = beta^n s_0 + sum_k (1-beta) beta^(n-k) p_k, with s_0 = 0
    expected = sum((1 - beta) * beta ** (n - k) * p for k, p in enumerate(seq, start=1))
    assert ema.shadow.w.item() == pytest.approx(expected, abs=1e-6)


def test_half_life_halves_initial_weight() -> None:
    model = _One()
    model.w.data.fill_(1.0)
    ema = EMA(model, half_life_img=64, rampup=None)
    model.w.data.fill_(0.0)
    bs = 8
    for step in range(64 // bs):
        ema.update(model, batch_size=bs, nimg=(step + 1) * bs)
    assert ema.shadow.w.item() == pytest.approx(0.5, abs=1e-6)


def test_rampup_caps_half_life() -> None:
    ema = EMA(nn.Linear(1, 1), half_life_img=10_000, rampup=0.05)
    # h = min(1e4, 1000 * 0.05) = 50
    assert ema.beta(32, nimg=1000) == pytest.approx(0.5 ** (32 / 50))
    assert ema.beta(32, nimg=10**7) == pytest.approx(0.5 ** (32 / 10_000))
    # h floored at 1e-8: shadow jumps to the model
    assert ema.beta(32, nimg=0) == pytest.approx(0.0)
    no_ramp = EMA(nn.Linear(1, 1), half_life_img=10_000, rampup=None)
    assert no_ramp.beta(32, nimg=0) == pytest.approx(0.5 ** (32 / 10_000))


def test_buffers_copied_and_state_dict_round_trip() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = EMA(model, half_life_img=1e9, rampup=None)
    model.train()
    model(torch.randn(16, 3, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(model[1].running_mean, ema.shadow[1].running_mean)
    ema.update(model, batch_size=16, nimg=16)
    torch.testing.assert_close(ema.shadow[1].running_mean, model[1].running_mean, rtol=0, atol=0)
    assert ema.shadow[1].num_batches_tracked.item() == 1
    other = EMA(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)), half_life_img=1.0)
    other.load_state_dict(ema.state_dict())
    for k, v in ema.state_dict().items():
        torch.testing.assert_close(other.state_dict()[k], v, rtol=0, atol=0)


def test_bad_half_life() -> None:
    with pytest.raises(ValueError, match="half_life_img"):
        EMA(nn.Linear(1, 1), half_life_img=0)
    assert math.isfinite(EMA(nn.Linear(1, 1), half_life_img=1).beta(1, 1))
