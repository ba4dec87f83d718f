"""k-nearest-neighbour manifold metrics in any feature space: precision/recall and density/coverage.

- Precision and recall: Kynkäänniemi, Karras, Laine, Lehtinen and Aila, "Improved Precision and Recall Metric for
  Assessing Generative Models", NeurIPS 2019. The real manifold is the union of balls B(x_i, r_i) around each real
  point, r_i the distance to its k-th nearest real neighbour (itself excluded); precision is the share of fake points
  inside it; recall is the share of real points inside the fake manifold built the same way (k = 3).
- Density and coverage: Naeem, Oh, Uh, Choi and Yoo, "Reliable Fidelity and Diversity Metrics for Generative
  Models", ICML 2020. density = (1/kM) Σ_j Σ_i 1[y_j ∈ B(x_i, r_i)]; coverage = share of real balls that contain at
  least one fake point (k = 5).

A point on a ball's boundary is inside (d ≤ r). Squared Euclidean distances are computed in float64 as
‖a‖² + ‖b‖² − 2a·b (clamped at 0) and compared squared, in row blocks of ``chunk``: memory is O(chunk · max(N, M)),
never a full N × M matrix for N, M above ``chunk``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import MetricError


def _prepare(real: Tensor, fake: Tensor, k: int, chunk: int, metric: str) -> tuple[Tensor, Tensor]:
    for name, t in (("real", real), ("fake", fake)):
        if not isinstance(t, Tensor) or t.dim() != 2:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise MetricError(f"{metric} {name} features must be a 2-D tensor [n, d], got {shape}")
    if real.shape[1] != fake.shape[1]:
        raise MetricError(
            f"{metric} feature dims differ: real {real.shape[1]} vs fake {fake.shape[1]}"
        )
    if not isinstance(k, int) or k < 1:
        raise MetricError(f"{metric} k must be a positive integer, got {k!r}")
    if not isinstance(chunk, int) or chunk < 1:
        raise MetricError(f"{metric} chunk must be a positive integer, got {chunk!r}")
    if real.shape[0] <= k:
        raise MetricError(
            f"{metric} with k={k} needs more than {k} real samples, got {real.shape[0]}"
        )
    if fake.shape[0] < 1:
        raise MetricError(f"{metric} needs at least one fake sample, got 0")
    r = real.detach().to(torch.float64)
    return r, fake.detach().to(r.device, torch.float64)


def _sq_dists(a: Tensor, b: Tensor, b_sq: Tensor) -> Tensor:
    """Squared distances ``[len(a), len(b)]`` (float64, ≥ 0); ``b_sq`` = ‖b_i‖²."""
    d2 = torch.addmm(b_sq.unsqueeze(0), a, b.T, alpha=-2.0)
    return d2.add_(a.square().sum(dim=1, keepdim=True)).clamp_(min=0.0)


def kth_neighbour_radii_sq(x: Tensor, k: int, chunk: int = 2000) -> Tensor:
    """Squared distance from each row of ``x`` (float64 ``[N, d]``) to its k-th nearest other row.

    The point itself is excluded by index (a duplicate elsewhere counts as a neighbour at distance 0).
    Returns float64 ``[N]``; needs N > k.
    """
    x_sq = x.square().sum(dim=1)
    out = torch.empty(x.shape[0], dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], chunk):
        d2 = _sq_dists(x[start : start + chunk], x, x_sq)
        rows = torch.arange(d2.shape[0], device=x.device)
        d2[rows, start + rows] = math.inf
        out[start : start + d2.shape[0]] = d2.topk(k, dim=1, largest=False).values[:, -1]
    return out


def _ball_counts(
    points: Tensor, centres: Tensor, radii_sq: Tensor, chunk: int
) -> tuple[Tensor, Tensor]:
    """``counts[j]`` = number of balls B(centre_i, r_i) containing point j (int64 ``[M]``);
    ``hit[i]`` = ball i contains at least one point (bool ``[N]``)."""
    c_sq = centres.square().sum(dim=1)
    counts = torch.empty(points.shape[0], dtype=torch.int64, device=points.device)
    hit = torch.zeros(centres.shape[0], dtype=torch.bool, device=points.device)
    for start in range(0, points.shape[0], chunk):
        inside = _sq_dists(points[start : start + chunk], centres, c_sq) <= radii_sq.unsqueeze(0)
        counts[start : start + inside.shape[0]] = inside.sum(dim=1)
        hit |= inside.any(dim=0)
    return counts, hit


def precision_recall(
    real: Tensor, fake: Tensor, *, k: int = 3, chunk: int = 2000
) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Args:
        real: ``[N, d]`` real features, N > k. fake: ``[M, d]`` generated features, M > k. Any float dtype;
            computed in float64 on ``real``'s device.
        k: neighbour index defining each ball's radius (self excluded).
        chunk: rows per distance block.

    Returns:
        ``{"precision": float in [0, 1], "recall": float in [0, 1]}``.
    """
    r, f = _prepare(real, fake, k, chunk, "precision/recall")
    if f.shape[0] <= k:
        raise MetricError(
            f"precision/recall with k={k} needs more than {k} fake samples, got {f.shape[0]}"
        )
    fake_in_real, _ = _ball_counts(f, r, kth_neighbour_radii_sq(r, k, chunk), chunk)
    real_in_fake, _ = _ball_counts(r, f, kth_neighbour_radii_sq(f, k, chunk), chunk)
    return {
        "precision": int((fake_in_real > 0).sum()) / f.shape[0],
        "recall": int((real_in_fake > 0).sum()) / r.shape[0],
    }


def density_coverage(
    real: Tensor, fake: Tensor, *, k: int = 5, chunk: int = 2000
) -> dict[str, float]:
    """Density and coverage (Naeem et al., 2020).

    Args:
        real: ``[N, d]`` real features, N > k. fake: ``[M, d]`` generated features, M ≥ 1. Any float dtype;
            computed in float64 on ``real``'s device.
        k: neighbour index defining each real ball's radius (self excluded).
        chunk: rows per distance block.

    Returns:
        ``{"density": float ≥ 0 (1 ≈ as dense as real data; can exceed 1), "coverage": float in [0, 1]}``.
    """
    r, f = _prepare(real, fake, k, chunk, "density/coverage")
    counts, hit = _ball_counts(f, r, kth_neighbour_radii_sq(r, k, chunk), chunk)
    return {
        "density": int(counts.sum()) / (k * f.shape[0]),
        "coverage": int(hit.sum()) / r.shape[0],
    }
