"""Mode coverage of 2-D Gaussian mixtures and Jensen–Shannon divergence of 1-D densities.

``mode_coverage`` follows PacGAN (Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in generative
adversarial networks", NeurIPS 2018, §5.1), which takes its metrics from VEEGAN (Srivastava et al., NeurIPS 2017):
on the ring (8 modes, σ = 0.01) and grid (25 modes, σ = 0.05) mixtures a sample is *high quality* when it lies within
3σ of its nearest mode, a mode is *captured* when at least one high-quality sample is assigned to it, and the
*reverse KL* is KL(q ‖ uniform) of the histogram q of high-quality samples over the modes.

``kde_1d``, ``jensen_shannon`` and ``jsd_to_gaussian`` measure how well a 1-D generator matches a Gaussian target
(the toy setting of Goodfellow et al. 2014, Figure 1): the samples' Gaussian kernel density estimate (Parzen 1962,
bandwidth by Scott 1992) against the exact target density, both on one uniform grid, integrated by the trapezoid rule.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import MetricError

__all__ = ["mode_coverage", "kde_1d", "jensen_shannon", "jsd_to_gaussian", "scott_bandwidth"]

_CHUNK_ELEMENTS = 1 << 22  # ~4M float64 (32 MiB) per intermediate block


def _as_float64_matrix(x: Tensor, name: str, width: int | None = None) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise MetricError(f"{name} must be a non-empty 2-D tensor [N, d], got {_shape(x)}")
    if width is not None and x.shape[1] != width:
        raise MetricError(f"{name} must have {width} columns to match the modes, got {x.shape[1]}")
    x = x.detach().to(device="cpu", dtype=torch.float64)
    if not torch.isfinite(x).all():
        raise MetricError(f"{name} contains NaN or inf")
    return x


def _shape(x: object) -> str:
    return str(tuple(x.shape)) if isinstance(x, Tensor) else type(x).__name__


def mode_coverage(samples: Tensor, modes: Tensor, std: float) -> dict[str, float]:
    """Modes captured, share of high-quality samples and reverse KL of a 2-D mixture (PacGAN, VEEGAN).

    Args:
        samples: generated points, float ``[N, 2]`` (any ``[N, d]`` with d matching ``modes`` works).
        modes: the mixture's means, ``[K, 2]``.
        std: the mixture's per-coordinate standard deviation σ (> 0); ring 0.01, grid 0.05.

    Returns:
        ``{"modes": float in [0, K], "high_quality": float in [0, 1], "reverse_kl": float in [0, log K] or inf}``.

    Each sample goes to its nearest mode (Euclidean; ties to the lower index); it is high quality when that distance
    is ≤ 3σ. The reverse KL is Σ_k q_k log(q_k K) with q the histogram of the *high-quality* samples only,
    normalised by their number, and empty modes contributing 0; this is log K − H(q) for the "entropy of coverage"
    H(q) that PacGAN's code logs (fjxmlzn/PacGAN, synthetic_data_experiments/PacGAN/pacgan/extensions.py,
    ``MetricLogger``: only points with standardised distance below 3 enter ``detail_of_coverage``, and
    ``scipy.stats.entropy`` treats 0·log 0 as 0). That code uses a strict ``< 3``; the boundary has measure zero.
    With no high-quality sample q is undefined and ``reverse_kl`` is ``inf``.
    """
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std > 0):
        raise MetricError(f"std must be a finite number > 0, got {std!r}")
    m = _as_float64_matrix(modes, "modes")
    x = _as_float64_matrix(samples, "samples", width=m.shape[1])
    k = m.shape[0]
    nearest, dist = _nearest_modes(x, m)
    good = dist <= 3.0 * float(std)
    counts = torch.bincount(nearest[good], minlength=k).to(torch.float64)
    n_good = int(good.sum())
    if n_good == 0:
        reverse_kl = math.inf
    else:
        q = counts[counts > 0] / n_good
        reverse_kl = max(0.0, float((q * (q * k).log()).sum()))
    return {
        "modes": float((counts > 0).sum()),
        "high_quality": n_good / x.shape[0],
        "reverse_kl": reverse_kl,
    }


def _nearest_modes(x: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
    """Each point's nearest mode (int64 [N]; ties to the lower index) and its distance (float64 [N]), in chunks."""
    nearest = torch.empty(x.shape[0], dtype=torch.long)
    dist = torch.empty(x.shape[0], dtype=torch.float64)
    rows = max(1, _CHUNK_ELEMENTS // (m.shape[0] * m.shape[1]))
    for start in range(0, x.shape[0], rows):
        block = x[start : start + rows]
        d2 = ((block[:, None, :] - m[None, :, :]) ** 2).sum(dim=-1)  # [b, K]
        best, idx = d2.min(dim=1)  # first minimum on ties
        nearest[start : start + rows] = idx
        dist[start : start + rows] = best.sqrt()
    return nearest, dist


def scott_bandwidth(samples: Tensor) -> float:
    """Scott's rule as scipy.stats.gaussian_kde applies it in 1-D: h = σ̂ · N^(−1/5), σ̂ with ddof = 1.

    (Not Silverman's 1.06·σ̂·N^(−1/5); this choice makes ``kde_1d`` agree with scipy's default to rounding.)
    """
    x = samples.detach().reshape(-1).to(torch.float64)
    if x.numel() < 2:
        raise MetricError(f"Scott's bandwidth needs at least 2 samples, got {x.numel()}")
    sigma = float(x.std(correction=1))
    if not (math.isfinite(sigma) and sigma > 0):
        raise MetricError(
            f"Scott's bandwidth needs samples with positive finite spread, got std {sigma}"
        )
    return sigma * x.numel() ** (-0.2)


def _samples_1d(samples: Tensor) -> Tensor:
    if (
        not isinstance(samples, Tensor)
        or samples.numel() == 0
        or not (samples.dim() == 1 or (samples.dim() == 2 and samples.shape[1] == 1))
    ):
        raise MetricError(
            f"samples must be a non-empty tensor [N] or [N, 1], got {_shape(samples)}"
        )
    x = samples.detach().reshape(-1).to(torch.float64)
    if not torch.isfinite(x).all():
        raise MetricError("samples contain NaN or inf")
    return x


def _resolve_bandwidth(x: Tensor, bandwidth: float | None) -> float:
    if bandwidth is None:
        return scott_bandwidth(x)
    if not (isinstance(bandwidth, (int, float)) and math.isfinite(bandwidth) and bandwidth > 0):
        raise MetricError(f"bandwidth must be a finite number > 0 or None, got {bandwidth!r}")
    return float(bandwidth)


def kde_1d(samples: Tensor, grid: Tensor, bandwidth: float | None = None) -> Tensor:
    """Gaussian kernel density estimate p̂(g) = (1/N) Σ_i φ((g − x_i)/h)/h (Parzen 1962).

    Args:
        samples: ``[N]`` (or ``[N, 1]``) real values.
        grid: ``[G]`` points at which to evaluate.
        bandwidth: kernel σ h; None → Scott's rule h = σ̂·N^(−1/5) (scipy's ``gaussian_kde`` default, see
            ``scott_bandwidth``).

    Returns:
        float64 ``[G]`` density values ≥ 0 on the CPU. Evaluated in blocks of the grid to bound memory.
    """
    x = _samples_1d(samples).cpu()
    if not isinstance(grid, Tensor) or grid.dim() != 1:
        raise MetricError(f"grid must be a 1-D tensor [G], got {_shape(grid)}")
    g = grid.detach().to(device="cpu", dtype=torch.float64)
    h = _resolve_bandwidth(x, bandwidth)
    out = torch.empty_like(g)
    rows = max(1, _CHUNK_ELEMENTS // x.numel())
    norm = 1.0 / (x.numel() * h * math.sqrt(2.0 * math.pi))
    xs, gs = x / h, g / h
    for start in range(0, g.numel(), rows):
        z = gs[start : start + rows, None] - xs[None, :]  # one [rows, N] block, updated in place
        out[start : start + rows] = z.square_().mul_(-0.5).exp_().sum(dim=1) * norm
    return out


def _trapezoid(y: Tensor, dx: float) -> Tensor:
    return dx * (y.sum() - 0.5 * (y[0] + y[-1]))


def jensen_shannon(p: Tensor, q: Tensor, dx: float) -> float:
    """Jensen–Shannon divergence (Lin 1991) in nats of two densities tabulated on one uniform grid.

    JSD = ½ KL(p ‖ m) + ½ KL(q ‖ m), m = ½(p + q), with 0·log 0 = 0; each density is first normalised to integrate to
    1 under the trapezoid rule with spacing ``dx``. Inputs: ``[G]`` (G ≥ 2), finite, ≥ 0, not all zero.
    Returns a float in [0, log 2] (the pointwise integrand lies between 0 and ½(p + q)·log 2).
    """
    if not (isinstance(dx, (int, float)) and math.isfinite(dx) and dx > 0):
        raise MetricError(f"dx must be a finite number > 0, got {dx!r}")
    dens = []
    for name, d in (("p", p), ("q", q)):
        if not isinstance(d, Tensor) or d.dim() != 1 or d.numel() < 2:
            raise MetricError(
                f"{name} must be a 1-D tensor with at least 2 grid values, got {_shape(d)}"
            )
        d = d.detach().to(device="cpu", dtype=torch.float64)
        if not torch.isfinite(d).all() or (d < 0).any():
            raise MetricError(f"{name} must be finite and non-negative")
        mass = float(_trapezoid(d, dx))
        if mass <= 0:
            raise MetricError(f"{name} integrates to {mass} on the grid; it must be positive")
        dens.append(d / mass)
    p64, q64 = dens
    if p64.numel() != q64.numel():
        raise MetricError(
            f"p and q must share one grid, got {p64.numel()} and {q64.numel()} values"
        )
    m = 0.5 * (p64 + q64)
    term = torch.zeros_like(m)
    for d in (p64, q64):
        pos = d > 0  # m > 0 wherever d > 0
        term[pos] += 0.5 * d[pos] * torch.log(d[pos] / m[pos])
    return min(max(float(_trapezoid(term, dx)), 0.0), math.log(2.0))


def jsd_to_gaussian(
    samples: Tensor,
    mean: float,
    std: float,
    *,
    grid_points: int = 2001,
    bandwidth: float | None = None,
) -> float:
    """JSD (nats, in [0, log 2]) between N(mean, std²) and the Gaussian KDE of 1-D samples.

    The grid has ``grid_points`` uniform points from min(mean − 6·std, min(samples) − 4h) to
    max(mean + 6·std, max(samples) + 4h), h the KDE bandwidth (Scott's rule when None, see ``kde_1d``); the target
    density is evaluated exactly there. Samples: ``[N]`` or ``[N, 1]``.
    """
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std > 0):
        raise MetricError(f"std must be a finite number > 0, got {std!r}")
    if not (isinstance(mean, (int, float)) and math.isfinite(mean)):
        raise MetricError(f"mean must be a finite number, got {mean!r}")
    if not (isinstance(grid_points, int) and grid_points >= 3):
        raise MetricError(f"grid_points must be an int >= 3, got {grid_points!r}")
    x = _samples_1d(samples).cpu()
    h = _resolve_bandwidth(x, bandwidth)
    lo = min(mean - 6.0 * std, float(x.min()) - 4.0 * h)
    hi = max(mean + 6.0 * std, float(x.max()) + 4.0 * h)
    grid = torch.linspace(lo, hi, grid_points, dtype=torch.float64)
    z = (grid - mean) / std
    target = torch.exp(-0.5 * z * z) / (std * math.sqrt(2.0 * math.pi))
    return jensen_shannon(target, kde_1d(x, grid, bandwidth=h), (hi - lo) / (grid_points - 1))
