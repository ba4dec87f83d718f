"""Fréchet distance (FID) and kernel inception distance (KID) between two sets of feature vectors.

- FID: Heusel, Ramsauer, Unterthiner, Nessler and Hochreiter, "GANs Trained by a Two Time-Scale Update Rule Converge
  to a Local Nash Equilibrium", NeurIPS 2017. Fit a Gaussian to each feature set; the Fréchet (2-Wasserstein)
  distance between N(μa, Σa) and N(μb, Σb) is ‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^{1/2}).
- KID: Bińkowski, Sutherland, Arbel and Gretton, "Demystifying MMD GANs", ICLR 2018. The unbiased estimate of the
  squared MMD with the cubic polynomial kernel k(x, y) = (x·y/d + 1)³, averaged over random subsets.

This module does the maths only (features in, floats out); the Inception network lives elsewhere. All arithmetic is
float64. Tr (ΣaΣb)^{1/2} is computed without ``scipy.linalg.sqrtm``: ΣaΣb is similar to the symmetric PSD matrix
Σa^{1/2} Σb Σa^{1/2}, so the trace is the sum of the square roots of that matrix's eigenvalues (tiny negative
eigenvalues from rounding are clamped to 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit.errors import MetricError


@dataclass(frozen=True)
class FeatureStats:
    """Gaussian fit of a feature set: ``mu`` float64 ``[d]``, ``sigma`` float64 ``[d, d]`` (ddof = 1), ``n`` rows."""

    mu: Tensor
    sigma: Tensor
    n: int


def _check_features(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor) or x.dim() != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise MetricError(f"{name} features must be a 2-D tensor [n, d], got {shape}")


def feature_stats(features: Tensor, *, chunk: int = 10000) -> FeatureStats:
    """Mean and covariance (ddof = 1, like ``np.cov(features, rowvar=False)``) of ``features``.

    Args:
        features: ``[N, d]`` any float dtype, N ≥ 2, finite.
        chunk: rows per block. Blocks are merged exactly (Chan et al.'s pairwise update of mean and centred
            sum of squares) in float64, so the result depends on ``chunk`` only through rounding.

    Returns:
        :class:`FeatureStats` on the features' device.
    """
    _check_features(features, "FID")
    if not isinstance(chunk, int) or chunk < 1:
        raise MetricError(f"feature_stats chunk must be a positive integer, got {chunk!r}")
    n_total = features.shape[0]
    if n_total < 2:
        raise MetricError(f"FID statistics need at least 2 feature vectors, got {n_total}")
    n, mean, m2 = 0, None, None
    for start in range(0, n_total, chunk):
        xb = features[start : start + chunk].detach().to(torch.float64)
        nb = xb.shape[0]
        mb = xb.mean(dim=0)
        xc = xb - mb
        m2b = xc.T @ xc
        if mean is None:
            n, mean, m2 = nb, mb, m2b
            continue
        delta = mb - mean
        merged = n + nb
        mean = mean + delta * (nb / merged)
        m2 = m2 + m2b + torch.outer(delta, delta) * (n * nb / merged)
        n = merged
    sigma = (m2 + m2.T) / (2.0 * (n - 1))
    if not (torch.isfinite(mean).all() and torch.isfinite(sigma).all()):
        raise MetricError("FID features contain NaN or infinite values")
    return FeatureStats(mu=mean, sigma=sigma, n=n)


def _sqrt_psd(m: Tensor) -> Tensor:
    """Symmetric square root of a symmetric PSD matrix (negative eigenvalues from rounding set to 0)."""
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def _trace_sqrt_product(sa: Tensor, sb: Tensor) -> Tensor:
    """Tr (Σa Σb)^{1/2} = Σ_k sqrt(λ_k(Σa^{1/2} Σb Σa^{1/2})) for symmetric PSD Σa, Σb (float64 scalar)."""
    root_a = _sqrt_psd(sa)
    inner = root_a @ sb @ root_a
    eig = torch.linalg.eigvalsh((inner + inner.T) / 2)
    return eig.clamp(min=0).sqrt().sum()


def frechet_distance(a: FeatureStats, b: FeatureStats) -> float:
    """‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^{1/2}) in float64 (≥ 0; 0 for identical statistics).

    Args:
        a, b: :class:`FeatureStats` of the same dimension d (b is moved to a's device).

    Returns:
        The Fréchet distance as a float (the FID when the features are Inception pool features).
    """
    for name, s in (("first", a), ("second", b)):
        d = s.mu.shape[0] if s.mu.dim() == 1 else -1
        if s.mu.dim() != 1 or tuple(s.sigma.shape) != (d, d):
            raise MetricError(
                f"FID {name} statistics are malformed: mu {tuple(s.mu.shape)}, "
                f"sigma {tuple(s.sigma.shape)}"
            )
    if a.mu.shape[0] != b.mu.shape[0]:
        raise MetricError(
            f"FID statistics have different feature dims: {a.mu.shape[0]} vs {b.mu.shape[0]}"
        )
    dev = a.mu.device
    mu_a, sa = a.mu.to(torch.float64), a.sigma.to(torch.float64)
    mu_b, sb = b.mu.to(dev, torch.float64), b.sigma.to(dev, torch.float64)
    diff = mu_a - mu_b
    value = diff.dot(diff) + torch.trace(sa) + torch.trace(sb) - 2.0 * _trace_sqrt_product(sa, sb)
    return max(float(value), 0.0)


def kid_subset_indices(
    n_real: int, n_fake: int, subset_size: int, subsets: int, seed: int = 0
) -> list[tuple[Tensor, Tensor]]:
    """The subsets :func:`kid` uses: for each subset, ``randperm(n_real)[:subset_size]`` then
    ``randperm(n_fake)[:subset_size]`` drawn in that order from one CPU ``torch.Generator`` seeded ``seed``.

    Returns:
        ``subsets`` pairs of int64 index tensors ``([subset_size], [subset_size])``, each without repeats.
    """
    if not isinstance(subset_size, int) or subset_size < 2:
        raise MetricError(f"KID subset size must be an integer ≥ 2, got {subset_size!r}")
    if not isinstance(subsets, int) or subsets < 1:
        raise MetricError(f"KID needs a positive number of subsets, got {subsets!r}")
    for count, what in sorted([(n_fake, "fake"), (n_real, "real")]):
        if subset_size > count:
            raise MetricError(
                f"KID subset size {subset_size} exceeds the {count} {what} samples; "
                "pass a smaller --kid-subset"
            )
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randperm(n_real, generator=gen)[:subset_size],
            torch.randperm(n_fake, generator=gen)[:subset_size],
        )
        for _ in range(subsets)
    ]


def _mmd2_unbiased(x: Tensor, y: Tensor) -> float:
    """Unbiased MMD² of two equal-size float64 sets with the kernel (x·y/d + 1)³."""
    m, d = x.shape
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    xx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    yy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return float(xx + yy - 2 * kxy.mean())


def kid(
    real: Tensor, fake: Tensor, *, subset_size: int = 1000, subsets: int = 100, seed: int = 0
) -> tuple[float, float]:
    """Kernel inception distance: mean and std (ddof = 0) of the unbiased MMD² over random subsets.

    Args:
        real: ``[N, d]`` features of real data; computed on its device in float64.
        fake: ``[M, d]`` features of generated data (same d).
        subset_size: rows per subset (2 ≤ subset_size ≤ min(N, M)), drawn without replacement within a subset.
        subsets: number of subsets; indices as in :func:`kid_subset_indices` with ``seed``.

    Returns:
        ``(mean, std)`` as floats; the mean may be slightly negative (unbiased estimator).
    """
    _check_features(real, "KID real")
    _check_features(fake, "KID fake")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(f"KID feature dims differ: real {real.shape[1]} vs fake {fake.shape[1]}")
    pairs = kid_subset_indices(real.shape[0], fake.shape[0], subset_size, subsets, seed)
    r = real.detach().to(torch.float64)
    f = fake.detach().to(r.device, torch.float64)
    values = np.array([_mmd2_unbiased(r[ir.to(r.device)], f[jf.to(r.device)]) for ir, jf in pairs])
    return float(values.mean()), float(values.std())
