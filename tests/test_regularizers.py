"""Gradient regularisers against closed forms on linear and quadratic critics."""

import pytest
import torch
from torch import nn

from gankit.regularizers import (
    clip_weights_,
    dragan_penalty,
    gradient_penalty,
    r1_penalty,
    r2_penalty,
)


def linear_critic(w, b: float = 0.0) -> nn.Linear:
    w = torch.as_tensor(w, dtype=torch.float32)
    lin = nn.Linear(w.numel(), 1)
    with torch.no_grad():
        lin.weight.copy_(w.reshape(1, -1))
        lin.bias.fill_(b)
    return nn.Sequential(nn.Flatten(), lin, nn.Flatten(0))  # [n, ...] → [n]


class Quadratic(nn.Module):
    """D(x) = ½‖x‖²·s; ∇D = s·x, so the gradient depends on where it is taken."""

    def __init__(self):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(1.0))

    def forward(self, x):
        return 0.5 * self.s * x.flatten(1).pow(2).sum(1)


def batch(seed: int, shape=(5, 2, 3, 2)):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def test_gp_zero_for_unit_norm_linear_critic():
    w = torch.tensor([0.6, 0.0, 0.8, 0.0])
    D = linear_critic(w, b=0.3)
    gp = gradient_penalty(
        D, batch(0, (6, 2, 2)), batch(1, (6, 2, 2)), generator=torch.Generator().manual_seed(0)
    )
    assert gp.item() == pytest.approx(0.0, abs=1e-10)
    assert dragan_penalty(
        D, batch(2, (6, 2, 2)), generator=torch.Generator().manual_seed(0)
    ).item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("scale", [0.5, 2.0, 3.0])
def test_gp_for_linear_critic_is_weight_times_norm_gap_squared(scale):
    w = torch.tensor([1.0, 2.0, -2.0, 4.0, 0.0, 0.0]) / 5.0 * scale  # ‖w‖ = scale
    D = linear_critic(w)
    real, fake = batch(0, (4, 6)), batch(1, (4, 6))
    gp = gradient_penalty(D, real, fake, weight=7.0)
    assert gp.item() > 0
    assert gp.item() == pytest.approx(7.0 * (scale - 1) ** 2, rel=1e-5)
    dr = dragan_penalty(D, real, weight=3.0)
    assert dr.item() == pytest.approx(3.0 * (scale - 1) ** 2, rel=1e-5)


def test_r1_r2_for_linear_critic():
    w = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.0, 1.0])
    D = linear_critic(w, b=-1.5)
    sq = w.pow(2).sum().item()
    assert r1_penalty(D, batch(0, (5, 2, 3))).item() == pytest.approx(10.0 / 2 * sq, rel=1e-6)
    assert r1_penalty(D, batch(0, (5, 2, 3)), gamma=0.2).item() == pytest.approx(0.1 * sq, rel=1e-6)
    assert r2_penalty(D, batch(1, (5, 2, 3)), gamma=4.0).item() == pytest.approx(2.0 * sq, rel=1e-6)


def test_r1_r2_for_quadratic_critic():
    x = batch(3)
    D = Quadratic()  # ‖∇D(x)‖² = ‖x‖²
    expected = 0.5 * 10.0 * x.flatten(1).pow(2).sum(1).mean().item()
    assert r1_penalty(D, x).item() == pytest.approx(expected, rel=1e-5)
    r2 = r2_penalty(D, 2 * x)
    assert r2.item() == pytest.approx(4 * expected, rel=1e-5)
    r2.backward()
    assert D.s.grad is not None


PENALTIES = {
    "gp": lambda D, real, fake: gradient_penalty(
        D, real, fake, generator=torch.Generator().manual_seed(1)
    ),
    "dragan": lambda D, real, fake: dragan_penalty(
        D, real, generator=torch.Generator().manual_seed(1)
    ),
    "r1": lambda D, real, fake: r1_penalty(D, real),
    "r2": lambda D, real, fake: r2_penalty(D, fake),
}


def _g_and_d():
    """A small G (8 → 6) and a D whose input gradient depends on its input (tanh), so a penalty on G's samples
    that kept G's graph would give G's parameters a non-zero gradient."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 6))
    D = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 1), nn.Flatten(0))
    return G, D


@pytest.mark.parametrize("penalty", ["gp", "dragan", "r1", "r2"])
def test_penalty_on_generated_samples_does_not_reach_g(penalty):
    """Every penalty, given real and fake batches straight out of G (still attached to G's graph), backpropagates
    into D only: G's parameters get no gradient, and D's gradient and the value equal those on detached inputs."""
    G, D = _g_and_d()
    z = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(2))
    real, fake = G(z[0]), G(z[1])
    value = PENALTIES[penalty](D, real, fake)
    value.backward()
    assert all(p.grad is None for p in G.parameters())
    d_grads = [p.grad for p in D.parameters()]  # the output bias gets none: it does not shape ∇_x D
    D.zero_grad(set_to_none=True)
    detached = PENALTIES[penalty](D, real.detach(), fake.detach())
    detached.backward()
    assert value.item() == detached.item() > 0 and [g is None for g in d_grads] == [
        False,
        False,
        False,
        True,
    ]
    assert all(torch.equal(a, p.grad) for a, p in zip(d_grads[:3], D.parameters()))


def test_an_input_gradient_penalty_that_kept_gs_graph_would_reach_g():
    """Control for the test above: with this G and D, ‖∇_x D(x)‖² taken at G's samples without detaching them
    gives every parameter of G a non-zero gradient, so a penalty that forgot to detach would be caught."""
    G, D = _g_and_d()
    fake = G(torch.randn(5, 8, generator=torch.Generator().manual_seed(2)))
    (grad,) = torch.autograd.grad(D(fake).sum(), fake, create_graph=True)
    grad.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())


@pytest.mark.parametrize("penalty", ["gp", "dragan", "r1", "r2"])
def test_penalties_backpropagate_to_d_parameters(penalty):
    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1), nn.Flatten(0))
    real, fake = batch(0, (5, 3, 4)), batch(1, (5, 3, 4))
    gen = torch.Generator().manual_seed(1)
    value = {
        "gp": lambda: gradient_penalty(D, real, fake, generator=gen),
        "dragan": lambda: dragan_penalty(D, real, generator=gen),
        "r1": lambda: r1_penalty(D, real),
        "r2": lambda: r2_penalty(D, fake),
    }[penalty]()
    assert value.dim() == 0 and value.item() > 0
    value.backward()
    # every parameter except the output bias (which leaves ∇_x D unchanged) shapes the input gradient
    *shaping, out_bias = list(D.parameters())
    assert out_bias.grad is None or out_bias.grad.abs().sum() == 0
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
        for p in shaping
    )


def test_gp_alpha_drawn_per_sample_from_generator():
    # Quadratic critic: ∇D(x̂) = x̂. With real = 1·e and fake = 0, x̂_i = α_i·e, so ‖∇‖_i = α_i·‖e‖.
    n, d = 8, 4
    real, fake = torch.ones(n, d) / 2.0, torch.zeros(n, d)  # ‖real_i‖ = 1 ⇒ ‖∇‖_i = α_i
    alphas = torch.rand(n, 1, generator=torch.Generator().manual_seed(123))
    assert alphas.unique().numel() == n  # the draw itself differs per sample
    expected = 10.0 * (alphas.squeeze(1) - 1).pow(2).mean().item()
    gp = gradient_penalty(Quadratic(), real, fake, generator=torch.Generator().manual_seed(123))
    assert gp.item() == pytest.approx(expected, rel=1e-5)
    # one shared α for the batch would give 10·(α_0 − 1)², a different value
    assert gp.item() != pytest.approx(10.0 * (alphas[0, 0].item() - 1) ** 2, rel=1e-3)
    # same seed → same value; another seed → another value
    again = gradient_penalty(Quadratic(), real, fake, generator=torch.Generator().manual_seed(123))
    other = gradient_penalty(Quadratic(), real, fake, generator=torch.Generator().manual_seed(7))
    assert again.item() == gp.item() and other.item() != gp.item()


def test_gp_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(linear_critic([1.0, 0.0]), torch.zeros(3, 2), torch.zeros(4, 2))


def test_dragan_perturbs_with_batch_std():
    # Quadratic critic: ∇D(x̂) = x̂ = real + c·std·u; with real = 0 the std is 0, so x̂ = 0 and the penalty is weight
    D = Quadratic()
    assert dragan_penalty(D, torch.zeros(4, 3), weight=2.0).item() == pytest.approx(2.0)
    real = batch(5, (6, 3))
    u = torch.rand(6, 3, generator=torch.Generator().manual_seed(9))
    x_hat = real + 0.5 * real.std() * u
    expected = 10.0 * (x_hat.norm(dim=1) - 1).pow(2).mean().item()
    got = dragan_penalty(D, real, generator=torch.Generator().manual_seed(9)).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_clip_weights_clamps_every_parameter():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(10)
    before = [p.detach().clone() for p in D.parameters()]
    assert clip_weights_(D, 0.05) is None
    for p, b in zip(D.parameters(), before):
        assert p.abs().max() <= torch.tensor(0.05)
        assert torch.equal(p.detach(), b.clamp(-0.05, 0.05))
    assert any((b.abs() > 0.05).any() for b in before)  # the clamp had something to do


def test_ranks_draw_their_rows_of_the_global_batch_of_random_points():
    """Data-parallel training: two ranks with the same seeded generator, each penalising its half of the batch,
    average to one process's WGAN-GP penalty of the whole batch (their α are the global batch's rows; before, both
    ranks drew the same α). In one process the draws are the regularizers' own, bit for bit, for DRAGAN too.
    The halves' mean differs from the whole's by float rounding only: at most 1.1e-7 relative over 20 seeds of D,
    1 and 2 threads alike (AMD EPYC, AVX2, torch 2.13), so rtol 1e-6 leaves a 9× margin."""
    from gankit.config import ObjectiveConfig
    from gankit.regularizers import dragan_penalty
    from gankit.train.distributed import Ranks
    from gankit.train.tricks.penalty import penalty

    torch.manual_seed(0)
    D = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))
    real, fake = torch.randn(8, 3, 2, 2), torch.randn(8, 3, 2, 2)
    gp = ObjectiveConfig(loss="wgan", gp=10.0)

    def pen(cfg, x, y, rank=0, world=1):
        return penalty(
            cfg,
            torch.Generator().manual_seed(7),
            torch.device("cpu"),
            Ranks(rank=rank, world=world),
        )(D, x, y)

    halves = [pen(gp, real[r * 4 : r * 4 + 4], fake[r * 4 : r * 4 + 4], r, 2) for r in (0, 1)]
    assert torch.allclose((halves[0] + halves[1]) / 2, pen(gp, real, fake), rtol=1e-6, atol=0)
    assert not torch.allclose(halves[1], pen(gp, real[4:], fake[4:], 0, 2), rtol=1e-3, atol=0)
    own = gradient_penalty(D, real, fake, weight=10.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(pen(gp, real, fake), own)
    dragan = ObjectiveConfig(loss="gan", dragan=10.0)
    own = dragan_penalty(D, real, weight=10.0, generator=torch.Generator().manual_seed(7))
    assert torch.equal(pen(dragan, real, fake), own)
