"""Parzen-window log-likelihood: the evaluation protocol of Goodfellow et al. (2014), Table 1.

"Generative Adversarial Nets" (Goodfellow et al., NeurIPS 2014, §5) estimates the test-set log-likelihood of a
generator by fitting an isotropic Gaussian kernel density (Parzen window) on generated samples, a method taken from
Breuleux, Bengio and Vincent (2011). The protocol of goodfeli/adversarial ``parzen_ll.py``:

- centres μ_1..μ_N: N generated samples (10,000 in the paper), flattened, in the data's range ([0, 1] for MNIST);
- σ chosen from ``logspace(-1, 0, 10)`` by the mean log-likelihood of a validation set (1,000 held-out images);
- then for every test point x (10,000 images)

      log p(x) = logsumexp_i(−‖x − μ_i‖² / 2σ²) − log N − (d/2)·log(2πσ²),

  reported as mean ± std/√n (numpy ``std``, ddof = 0).

Caveat (Theis, van den Oord and Bethge, "A note on the evaluation of generative models", ICLR 2016): this estimate
is poor in high dimensions; real data or k-means centroids used as centres score higher than good generators.

Everything is computed in float64 on the device of ``centres``. Squared distances use ‖x‖² + ‖μ‖² − 2x·μ (clamped at
0), chunked over test points and centres; a running log-sum-exp over centre chunks keeps memory at two reused
``chunk_x × chunk_centres`` blocks (one when scoring a single σ), and the distances of a block serve every σ scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gankit.errors import MetricError

SIGMAS: Tensor = torch.logspace(-1, 0, 10, dtype=torch.float64)
"""The paper's σ grid: 10 values log-spaced from 0.1 to 1."""


@dataclass(frozen=True)
class ParzenResult:
    """Outcome of :func:`parzen_protocol`.

    ``mean`` and ``sem`` (std/√n, ddof = 0) are over the ``n`` test log-likelihoods (nats); ``sigma`` is the kernel
    width used; ``sigma_scores`` maps each candidate σ to its mean validation log-likelihood (empty if σ was given).
    """

    mean: float
    sem: float
    sigma: float
    n: int
    sigma_scores: dict[float, float]


def _check_points(centres: Tensor, x: Tensor, what: str) -> None:
    for name, t in (("centres", centres), (what, x)):
        if not isinstance(t, Tensor) or t.dim() != 2:
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise MetricError(f"Parzen {name} must be a 2-D tensor [n, d], got {shape}")
    if centres.shape[0] < 1:
        raise MetricError("Parzen needs at least one centre, got 0")
    if centres.shape[1] != x.shape[1]:
        raise MetricError(
            f"Parzen {what} has {x.shape[1]} dims but the centres have {centres.shape[1]}"
        )


def _check_chunks(chunk_x: int, chunk_centres: int) -> None:
    for name, value in (("chunk_x", chunk_x), ("chunk_centres", chunk_centres)):
        if not isinstance(value, int) or value < 1:
            raise MetricError(f"Parzen {name} must be a positive integer, got {value!r}")


def _sigma_list(sigmas: Tensor | Sequence[float] | float) -> list[float]:
    values = [float(s) for s in torch.as_tensor(sigmas, dtype=torch.float64).reshape(-1)]
    if not values:
        raise MetricError("Parzen needs at least one σ to try, got none")
    for s in values:
        if not (math.isfinite(s) and s > 0):
            raise MetricError(f"Parzen σ must be positive and finite, got {s}")
    return values


def _log_norm(n_centres: int, dim: int, sigma: float) -> float:
    """log N + (d/2)·log(2πσ²): the constant subtracted from each log-sum-exp."""
    return math.log(n_centres) + 0.5 * dim * math.log(2.0 * math.pi * sigma * sigma)


def _log_kernel_sums(
    centres: Tensor, x: Tensor, sigmas: list[float], chunk_x: int, chunk_centres: int
) -> Tensor:
    """logsumexp_i(−‖x_j − μ_i‖² / 2σ_s²) for every σ_s and x_j: float64 ``[len(sigmas), M]`` on centres' device."""
    c = centres.detach().to(torch.float64)
    dev = c.device
    c_sq = c.square().sum(dim=1)
    scales = [-0.5 / (s * s) for s in sigmas]
    block = min(chunk_x, x.shape[0]) * min(chunk_centres, c.shape[0])
    # reused blocks
    work = torch.empty(block * (1 if len(scales) == 1 else 2), dtype=torch.float64, device=dev)
    out = torch.empty(len(scales), x.shape[0], dtype=torch.float64, device=dev)
    for start in range(0, x.shape[0], chunk_x):
        xb = x[start : start + chunk_x].detach().to(device=dev, dtype=torch.float64)
        xb_sq = xb.square().sum(dim=1, keepdim=True)
        running = torch.full((len(scales), xb.shape[0]), -math.inf, dtype=torch.float64, device=dev)
        for c_start in range(0, c.shape[0], chunk_centres):
            cb = c[c_start : c_start + chunk_centres]
            shape = (xb.shape[0], cb.shape[0])
            d2 = work[: shape[0] * shape[1]].view(shape)
            # ‖x‖² + ‖μ‖² − 2x·μ in float64, clamped at 0 against rounding
            torch.addmm(
                c_sq[c_start : c_start + chunk_centres].unsqueeze(0), xb, cb.T, alpha=-2.0, out=d2
            )
            d2.add_(xb_sq).clamp_(min=0.0)
            nearest = d2.amin(dim=1, keepdim=True)
            # the nearest centre's term becomes exp(0) = 1: no underflow of the whole sum
            d2.sub_(nearest)
            terms = (
                d2 if len(scales) == 1 else work[block : block + shape[0] * shape[1]].view(shape)
            )
            for s, scale in enumerate(scales):
                torch.mul(d2, scale, out=terms).exp_()
                block_lse = terms.sum(dim=1).log_().add_(nearest.squeeze(1), alpha=scale)
                running[s] = torch.logaddexp(running[s], block_lse)
        out[:, start : start + xb.shape[0]] = running
    return out


def parzen_log_likelihood(
    centres: Tensor, x: Tensor, sigma: float, *, chunk_x: int = 1000, chunk_centres: int = 10000
) -> Tensor:
    """Log-density of each row of ``x`` under the isotropic Gaussian Parzen window on ``centres``.

    Args:
        centres: ``[N, d]`` kernel centres (any float dtype; e.g. generated samples in [0, 1]).
        x: ``[M, d]`` points to score (moved to the centres' device).
        sigma: kernel standard deviation, > 0.
        chunk_x, chunk_centres: block sizes; memory is O(chunk_x · chunk_centres), results do not depend on them
            beyond rounding.

    Returns:
        float64 ``[M]`` on the centres' device: log p(x_j) in nats (any real value).
    """
    _check_points(centres, x, "x")
    _check_chunks(chunk_x, chunk_centres)
    (s,) = _sigma_list(sigma)
    lse = _log_kernel_sums(centres, x, [s], chunk_x, chunk_centres)[0]
    return lse - _log_norm(centres.shape[0], centres.shape[1], s)


def select_sigma(
    centres: Tensor,
    x_val: Tensor,
    sigmas: Tensor | Sequence[float] = SIGMAS,
    *,
    chunk_x: int = 1000,
    chunk_centres: int = 10000,
) -> tuple[float, dict[float, float]]:
    """The σ among ``sigmas`` maximising the mean log-likelihood of ``x_val`` (first one on ties).

    Args:
        centres: ``[N, d]`` kernel centres.
        x_val: ``[M, d]`` validation points, M ≥ 1.
        sigmas: candidate widths (1-D tensor or sequence of positive floats); default :data:`SIGMAS`.

    Returns:
        ``(best σ, {σ: mean validation log-likelihood})``, plain floats. Distances are computed once for all σ.
    """
    _check_points(centres, x_val, "x_val")
    _check_chunks(chunk_x, chunk_centres)
    if x_val.shape[0] < 1:
        raise MetricError("Parzen σ selection needs at least one validation point, got 0")
    values = _sigma_list(sigmas)
    lse = _log_kernel_sums(centres, x_val, values, chunk_x, chunk_centres)
    n, d = centres.shape
    scores = {s: float(lse[i].mean()) - _log_norm(n, d, s) for i, s in enumerate(values)}
    best = max(values, key=lambda s: scores[s])  # max() keeps the first maximum
    return best, scores


def parzen_protocol(
    centres: Tensor,
    x_val: Tensor | None,
    x_test: Tensor,
    *,
    sigma: float | None = None,
    chunk_x: int = 1000,
    chunk_centres: int = 10000,
) -> ParzenResult:
    """The paper's evaluation: select σ on ``x_val`` (unless ``sigma`` is given), then score ``x_test``.

    Args:
        centres: ``[N, d]`` generated samples (paper: 10,000 flattened MNIST samples in [0, 1]).
        x_val: ``[M_val, d]`` validation points (paper: train[50000:51000]); may be None when ``sigma`` is given.
        x_test: ``[M, d]`` test points (paper: the 10,000 test images), M ≥ 1.
        sigma: fixed kernel width; None selects it from :data:`SIGMAS`.

    Returns:
        :class:`ParzenResult` with mean and standard error (std/√n, ddof = 0) of the test log-likelihoods.
    """
    if sigma is None:
        if x_val is None:
            raise MetricError("Parzen needs validation points to select σ, or a fixed sigma")
        sigma, scores = select_sigma(centres, x_val, chunk_x=chunk_x, chunk_centres=chunk_centres)
    else:
        (sigma,) = _sigma_list(sigma)
        scores = {}
    _check_points(centres, x_test, "x_test")
    if x_test.shape[0] < 1:
        raise MetricError("Parzen needs at least one test point, got 0")
    ll = parzen_log_likelihood(centres, x_test, sigma, chunk_x=chunk_x, chunk_centres=chunk_centres)
    lls = ll.cpu().numpy()
    return ParzenResult(
        mean=float(lls.mean()),
        sem=float(lls.std() / np.sqrt(lls.shape[0])),
        sigma=float(sigma),
        n=int(lls.shape[0]),
        sigma_scores=scores,
    )
