"""Modern adversarial objectives against hand computations (LSGAN, WGAN, hinge, RaGAN, RpGAN, label smoothing)."""

import dataclasses
import math

import pytest
import torch

from gankit.objectives import (
    G_LOSSES,
    Objective,
    d_loss,
    d_loss_hinge,
    d_loss_lsgan,
    d_loss_ragan,
    d_loss_rpgan,
    d_loss_smoothed,
    d_loss_wasserstein,
    g_loss_hinge,
    g_loss_lsgan,
    g_loss_ragan,
    g_loss_rpgan,
    g_loss_wasserstein,
    get_objective,
    objectives,
)

REAL = torch.tensor([2.0, 0.5, -1.0])
FAKE = torch.tensor([-2.0, 1.5])


def sp(x: float) -> float:
    return math.log1p(math.exp(x))


def test_lsgan_by_hand():
    # ½·mean((1, -0.5, -2)²) + ½·mean((-2, 1.5)²) = ½·(1+0.25+4)/3 + ½·(4+2.25)/2
    assert d_loss_lsgan(REAL, FAKE).item() == pytest.approx(0.5 * 5.25 / 3 + 0.5 * 6.25 / 2)
    # ½·mean((-3, 0.5)²)
    assert g_loss_lsgan(FAKE).item() == pytest.approx(0.5 * (9 + 0.25) / 2)
    assert d_loss_lsgan(torch.ones(4), torch.zeros(4)).item() == 0.0  # optimum of D at b=1, a=0


def test_wasserstein_by_hand():
    # mean fake = -0.25, mean real = 0.5
    assert d_loss_wasserstein(REAL, FAKE).item() == pytest.approx(-0.25 - 0.5)
    assert g_loss_wasserstein(FAKE).item() == pytest.approx(0.25)


def test_hinge_by_hand():
    # relu(1 - real) = (0, 0.5, 2), relu(1 + fake) = (0, 2.5)
    assert d_loss_hinge(REAL, FAKE).item() == pytest.approx(2.5 / 3 + 2.5 / 2)
    assert g_loss_hinge(FAKE).item() == pytest.approx(0.25)
    # margins satisfied → zero loss, and the hinge is flat there
    real = torch.tensor([1.0, 3.0], requires_grad=True)
    fake = torch.tensor([-1.0, -5.0], requires_grad=True)
    loss = d_loss_hinge(real, fake)
    loss.backward()
    assert loss.item() == 0.0 and real.grad.abs().sum() == 0 and fake.grad.abs().sum() == 0


def test_ragan_by_hand():
    mean_r, mean_f = 0.5, -0.25
    d_expected = (
        sum(sp(-(r - mean_f)) for r in REAL.tolist()) / 3
        + sum(sp(f - mean_r) for f in FAKE.tolist()) / 2
    )
    g_expected = (
        sum(sp(-(f - mean_r)) for f in FAKE.tolist()) / 2
        + sum(sp(r - mean_f) for r in REAL.tolist()) / 3
    )
    assert d_loss_ragan(REAL, FAKE).item() == pytest.approx(d_expected, rel=1e-6)
    assert g_loss_ragan(FAKE, REAL).item() == pytest.approx(g_expected, rel=1e-6)


def test_ragan_symmetry():
    torch.manual_seed(0)
    real, fake = torch.randn(6), torch.randn(9)
    # G's loss is D's loss with the roles of real and fake swapped
    assert g_loss_ragan(fake, real).item() == pytest.approx(
        d_loss_ragan(fake, real).item(), rel=1e-6
    )
    # shifting all outputs by a constant changes nothing: only relative realness counts
    assert d_loss_ragan(real + 3.0, fake + 3.0).item() == pytest.approx(
        d_loss_ragan(real, fake).item(), rel=1e-5
    )
    # equal critic values everywhere ⇔ σ(0) = ½ for every term ⇒ 2·log 2
    assert d_loss_ragan(torch.full((4,), 0.7), torch.full((5,), 0.7)).item() == pytest.approx(
        2 * math.log(2)
    )


PAIR_REAL = torch.tensor([2.0, 0.5, -1.0])
PAIR_FAKE = torch.tensor([-2.0, 1.5, -1.0])


def test_rpgan_by_hand():
    # pairs (2, -2), (0.5, 1.5), (-1, -1): D's margins 4, -1, 0
    assert d_loss_rpgan(PAIR_REAL, PAIR_FAKE).item() == pytest.approx(
        (sp(-4) + sp(1) + sp(0)) / 3, rel=1e-6
    )
    assert g_loss_rpgan(PAIR_FAKE, PAIR_REAL).item() == pytest.approx(
        (sp(4) + sp(-1) + sp(0)) / 3, rel=1e-6
    )
    # equal logits in every pair: σ(0) = ½ for each ⇒ log 2 (ragan's sum of two such terms gives 2·log 2)
    assert d_loss_rpgan(PAIR_REAL, PAIR_REAL).item() == pytest.approx(math.log(2))


def test_rpgan_pairs_where_ragan_averages():
    """Pairing matters: permuting the fakes changes rpgan, not ragan; with a single pair ragan's two terms are
    both rpgan's one term, so ragan = 2·rpgan."""
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([2.0, -2.0])
    assert d_loss_rpgan(real, fake).item() != pytest.approx(d_loss_rpgan(real, fake.flip(0)).item())
    assert d_loss_ragan(real, fake).item() == pytest.approx(d_loss_ragan(real, fake.flip(0)).item())
    r, f = torch.tensor([0.8]), torch.tensor([-0.3])
    assert d_loss_ragan(r, f).item() == pytest.approx(2 * d_loss_rpgan(r, f).item(), rel=1e-6)
    # only differences count, and G's loss is D's with the roles swapped
    assert d_loss_rpgan(real + 5, fake + 5).item() == pytest.approx(
        d_loss_rpgan(real, fake).item(), rel=1e-6
    )
    assert g_loss_rpgan(fake, real).item() == pytest.approx(
        d_loss_rpgan(fake, real).item(), rel=1e-6
    )


def test_rpgan_gradients_by_hand():
    """∂L_D/∂C(x_i) = −σ(C(G(z_i)) − C(x_i))/n and ∂L_D/∂C(G(z_i)) = +σ(…)/n."""
    real = PAIR_REAL.clone().requires_grad_(True)
    fake = PAIR_FAKE.clone().requires_grad_(True)
    d_loss_rpgan(real, fake).backward()
    s = torch.sigmoid(PAIR_FAKE - PAIR_REAL) / 3
    assert torch.allclose(real.grad, -s) and torch.allclose(fake.grad, s)


def test_smoothed_by_hand_and_zero_smoothing_is_d_loss():
    t = 0.9
    expected = (
        sum(t * sp(-r) + (1 - t) * sp(r) for r in REAL.tolist()) / 3
        + sum(sp(f) for f in FAKE.tolist()) / 2
    )
    assert d_loss_smoothed(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert d_loss_smoothed(REAL, FAKE, real_target=1.0).item() == pytest.approx(
        d_loss(REAL, FAKE).item(), rel=1e-7
    )
    # with target t, the optimal real logit is logit(t): the gradient wrt the real logit vanishes there
    logit = torch.tensor([math.log(t / (1 - t))], requires_grad=True)
    d_loss_smoothed(logit, torch.zeros(1), real_target=t).backward()
    assert abs(logit.grad.item()) < 1e-6


def test_modern_losses_finite_for_extreme_logits():
    big = torch.tensor([-1e4, 1e4])
    for value in (
        d_loss_ragan(big, big),
        g_loss_ragan(big, big),
        d_loss_rpgan(big, -big),
        g_loss_rpgan(-big, big),
        d_loss_smoothed(big, big),
        d_loss_hinge(big, big),
    ):
        assert torch.isfinite(value)


def test_get_objective_names():
    names = ("gan", "lsgan", "wgan", "hinge", "ragan", "rpgan")
    assert tuple(objectives())[:6] == names
    for name in names:
        obj = get_objective(name)
        assert isinstance(obj, Objective) and obj.name == name
        assert obj.g_needs_real == (name in ("ragan", "rpgan"))
    assert (
        get_objective("lsgan").d_loss is d_loss_lsgan
        and get_objective("lsgan").g_loss is g_loss_lsgan
    )
    assert (
        get_objective("wgan").d_loss is d_loss_wasserstein
        and get_objective("wgan").g_loss is g_loss_wasserstein
    )
    assert (
        get_objective("hinge").d_loss is d_loss_hinge
        and get_objective("hinge").g_loss is g_loss_hinge
    )
    assert (
        get_objective("ragan").d_loss is d_loss_ragan
        and get_objective("ragan").g_loss is g_loss_ragan
    )
    assert (
        get_objective("rpgan").d_loss is d_loss_rpgan
        and get_objective("rpgan").g_loss is g_loss_rpgan
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_objective("hinge").name = "x"


def test_get_objective_gan_options():
    plain = get_objective("gan")
    assert plain.d_loss is d_loss and plain.g_loss is G_LOSSES["non-saturating"]
    assert get_objective("gan", g_loss="minimax").g_loss is G_LOSSES["minimax"]
    assert get_objective("gan", label_smoothing=0.0).d_loss is d_loss
    smoothed = get_objective("gan", label_smoothing=0.1)
    assert smoothed.d_loss(REAL, FAKE).item() == pytest.approx(
        d_loss_smoothed(REAL, FAKE, 0.9).item(), rel=1e-7
    )
    assert smoothed.d_loss(REAL, FAKE).item() != pytest.approx(d_loss(REAL, FAKE).item())


def test_get_objective_errors_name_the_choices():
    with pytest.raises(ValueError, match="lsgan.*wgan.*hinge.*ragan.*rpgan"):
        get_objective("bogus")
    with pytest.raises(ValueError, match="minimax"):
        get_objective("gan", g_loss="bogus")
    with pytest.raises(ValueError, match="label_smoothing"):
        get_objective("gan", label_smoothing=1.0)
