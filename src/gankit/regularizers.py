"""Discriminator regularisers. Imports only torch.

Each receives D and its inputs explicitly and returns a scalar tensor already multiplied by its weight, built with
`create_graph=True` so that it can be added to D's loss and backpropagated to D's parameters. D maps a batch
[n, ...] to outputs [n] (logits or critic values); its outputs are summed before `torch.autograd.grad`, which gives
each sample's own input gradient because samples do not interact in D.

- WGAN-GP (Gulrajani et al., 2017): two-sided gradient penalty on random interpolates of real and fake.
- DRAGAN (Kodali et al., 2017): gradient penalty on perturbed real data.
- R1 / R2 (Mescheder et al., 2018): squared gradient norm at real / fake samples.
- Weight clipping (Arjovsky et al., 2017).
"""

from __future__ import annotations

from typing import Callable

import torch

Critic = Callable[[torch.Tensor], torch.Tensor]


def _input_grad(D: Critic, x: torch.Tensor) -> torch.Tensor:
    """∇_x Σ_i D(x)_i, shape [n, d] (non-batch dims flattened), with a graph for double backprop."""
    x = x.detach().requires_grad_(True)
    out = D(x)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad.reshape(grad.shape[0], -1)


def _uniform(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)


def gradient_penalty(
    D: Critic,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    weight: float = 10.0,
    generator: torch.Generator | None = None,
    alpha: torch.Tensor | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty (Gulrajani et al., 2017) at x̂ = α·real + (1−α)·fake, α ~ U[0,1] per sample.

    real, fake: float tensors [n, ...] of equal shape; `generator` (on real's device) draws α unless `alpha`
    ([n, 1, …], values in [0, 1]) gives it. Returns a scalar.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
        )
    if alpha is None:
        alpha = _uniform((real.shape[0],) + (1,) * (real.dim() - 1), real, generator)
    x_hat = alpha * real.detach() + (1 - alpha) * fake.detach()
    # λ·E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²]
    return weight * (_input_grad(D, x_hat).norm(2, dim=1) - 1).pow(2).mean()


def dragan_penalty(
    D: Critic,
    real: torch.Tensor,
    *,
    weight: float = 10.0,
    c: float = 0.5,
    generator: torch.Generator | None = None,
    u: torch.Tensor | None = None,
) -> torch.Tensor:
    """DRAGAN penalty (Kodali et al., 2017) at x̂ = real + c·std(real)·u, u ~ U[0,1] elementwise (drawn from
    `generator` unless given, real's shape).

    std is taken over the whole batch (one scalar). real: float tensor [n, ...]. Returns a scalar.
    """
    real = real.detach()
    if u is None:
        u = _uniform(tuple(real.shape), real, generator)
    x_hat = real + c * real.std() * u
    # λ·E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²]
    return weight * (_input_grad(D, x_hat).norm(2, dim=1) - 1).pow(2).mean()


def r1_penalty(D: Critic, real: torch.Tensor, *, gamma: float = 10.0) -> torch.Tensor:
    """R1 penalty (Mescheder et al., 2018) at real data [n, ...]. Returns a scalar."""
    # (γ/2)·E_x~P_r[‖∇_x D(x)‖²]
    return 0.5 * gamma * _input_grad(D, real).pow(2).sum(dim=1).mean()


def r2_penalty(D: Critic, fake: torch.Tensor, *, gamma: float = 10.0) -> torch.Tensor:
    """R2 penalty (Mescheder et al., 2018) at generated samples [n, ...] (detached from G). Returns a scalar."""
    # (γ/2)·E_x~P_g[‖∇_x D(x)‖²]
    return 0.5 * gamma * _input_grad(D, fake).pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(D: torch.nn.Module, c: float = 0.01) -> None:
    """WGAN weight clipping (Arjovsky et al., 2017): clamp every trainable parameter of D to [−c, c] in place (a
    frozen one, ``requires_grad=False``, is not D's to change)."""
    if c <= 0:
        raise ValueError(f"clip value c must be positive, got {c!r}")
    for p in D.parameters():
        if p.requires_grad:
            p.clamp_(-c, c)
