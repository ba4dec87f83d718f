"""Closed forms of the value function's losses (Goodfellow et al., 2014, eq. 1)."""

import math

import pytest
import torch

from gankit.objectives import G_LOSSES, d_loss, g_loss_minimax, g_loss_non_saturating


def test_d_loss_at_half_is_log4():
    zeros = torch.zeros(7)  # logit 0 ⇔ D = ½
    assert d_loss(zeros, zeros).item() == pytest.approx(math.log(4.0), abs=1e-7)


def test_d_loss_is_minus_value_function():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.2, 1.0])
    d_real, d_fake = torch.sigmoid(real).double(), torch.sigmoid(fake).double()
    value = torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    assert d_loss(real, fake).item() == pytest.approx(-value.item(), rel=1e-6)


def test_saturating_g_loss_equals_second_term_of_value_function():
    fake = torch.tensor([-4.0, -0.3, 0.0, 2.5])
    second_term = torch.log(1 - torch.sigmoid(fake.double())).mean()
    assert g_loss_minimax(fake).item() == pytest.approx(second_term.item(), rel=1e-6)


def test_non_saturating_g_loss_is_minus_log_d():
    fake = torch.tensor([-4.0, -0.3, 0.0, 2.5])
    assert g_loss_non_saturating(fake).item() == pytest.approx(
        -torch.log(torch.sigmoid(fake.double())).mean().item(), rel=1e-6
    )


def _grad_at(loss, logit: float) -> float:
    x = torch.tensor([logit], requires_grad=True)
    loss(x).backward()
    return x.grad.item()


def test_saturating_gradient_vanishes_when_d_rejects_fakes_but_non_saturating_does_not():
    # D(G(z)) = sigmoid(-20) ≈ 2e-9: early training, D confidently rejects samples
    assert abs(_grad_at(g_loss_minimax, -20.0)) < 1e-8
    assert abs(_grad_at(g_loss_non_saturating, -20.0)) > 0.99
    # both push logits the same way (G wants D(G(z)) up: loss decreases as the logit rises)
    assert _grad_at(g_loss_minimax, 0.0) < 0 and _grad_at(g_loss_non_saturating, 0.0) < 0


def test_losses_are_finite_for_extreme_logits():
    big = torch.tensor([-1e4, 1e4])
    for value in (d_loss(big, big), g_loss_minimax(big), g_loss_non_saturating(big)):
        assert torch.isfinite(value)


def test_registry_names():
    assert set(G_LOSSES) == {"minimax", "non-saturating"}
