"""Paths through G's noise space: truncation and interpolation (pure functions of z; models know nothing of runs).

Truncation is the mean-z trick: both priors gankit samples (uniform on [-√3, √3]^d, N(0, I)) have mean 0, so
z' = ψ·z pulls every draw toward the prior's mean (ψ = 1: unchanged; ψ = 0: every draw is the mean). gankit's
generators have no mapping network, so there is no mean-w to pull toward.
"""

from __future__ import annotations

import torch


def truncate(z: torch.Tensor, psi: float) -> torch.Tensor:
    """z [n, d] pulled toward the prior's mean (0) by ψ in [0, 1]: ψ·z."""
    if not 0.0 <= psi <= 1.0:
        raise ValueError(f"truncation ψ must be in [0, 1], got {psi}")
    return z * psi


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from a [d] to b [d] at fractions t [F] → [F, d] (linear where a ∥ b)."""
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if float(omega) < 1e-6:
        return lerp(a, b, t)
    s = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / s)[:, None] * a + (torch.sin(t * omega) / s)[:, None] * b


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Linear interpolation from a [d] to b [d] at fractions t [F] → [F, d]."""
    return (1 - t)[:, None] * a + t[:, None] * b


def loop_through(points: torch.Tensor, frames: int, spherical: bool) -> torch.Tensor:
    """A closed walk through points [N, d]: ``frames`` steps from each point toward the next (the last back to
    the first) → [N·frames, d], starting at points[0]."""
    if frames < 1 or len(points) < 2:
        raise ValueError(
            f"a walk needs at least 2 points and 1 frame each, got {len(points)} and {frames}"
        )
    t = torch.arange(frames, dtype=points.dtype) / frames
    step = slerp if spherical else lerp
    legs = [step(points[i], points[(i + 1) % len(points)], t) for i in range(len(points))]
    return torch.cat(legs)


def first_features(G: torch.nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """The output of the first layer G runs on ``inputs`` (the first leaf module called), flattened: [n, F]."""
    seen: list[torch.Tensor] = []
    leaves = [m for m in G.modules() if not list(m.children())]
    hooks = [
        m.register_forward_hook(lambda _m, _i, out: seen.append(out) if not seen else None)
        for m in leaves
    ]
    try:
        with torch.no_grad():
            G(*inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return seen[0].reshape(len(inputs[0]), -1).float()


def principal_directions(
    z: torch.Tensor, features: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """GANSpace's directions (Härkönen et al. 2020) for z [n, d] and G's first features of it [n, F]: the top ``k``
    principal components of the features, carried back to z by least squares (z ≈ coefficients · directions).
    Returns (unit directions [k, d], the spread of z along each, [k])."""
    centred = features - features.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    coefficients = centred @ v[:k].T  # [n, k]
    directions = torch.linalg.lstsq(coefficients, z - z.mean(0)).solution  # [k, d]
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return directions, (z @ directions.T).std(0)
