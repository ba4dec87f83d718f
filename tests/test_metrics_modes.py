"""Mode coverage (PacGAN/VEEGAN definitions) and 1-D Jensen–Shannon divergence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gankit.errors import MetricError
from gankit.metrics.modes import jensen_shannon, jsd_to_gaussian, kde_1d, mode_coverage

RING = torch.tensor(
    [[math.cos(2 * math.pi * i / 8), math.sin(2 * math.pi * i / 8)] for i in range(8)]
)
GRID = torch.tensor([[float(a), float(b)] for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)])


def reference_mode_coverage(samples: np.ndarray, modes: np.ndarray, std: float) -> dict[str, float]:
    """Plain loops: nearest mode, 3σ threshold, histogram of high-quality samples, KL to uniform."""
    k = len(modes)
    counts = [0] * k
    for x in samples:
        best, best_j = float("inf"), -1
        for j, m in enumerate(modes):
            d = math.sqrt(sum((float(a) - float(b)) ** 2 for a, b in zip(x, m)))
            if d < best:
                best, best_j = d, j
        if best <= 3 * std:
            counts[best_j] += 1
    total = sum(counts)
    kl = (
        math.inf
        if total == 0
        else sum(c / total * math.log(c / total * k) for c in counts if c > 0)
    )
    return {
        "modes": float(sum(c > 0 for c in counts)),
        "high_quality": total / len(samples),
        "reverse_kl": kl,
    }


@pytest.mark.parametrize("modes,std,spread", [(RING, 0.01, 0.03), (GRID, 0.05, 0.2)])
def test_mode_coverage_matches_reference(modes, std, spread):
    gen = torch.Generator().manual_seed(1)
    # Uneven use of modes, some missing, with noise large enough that some samples miss the 3σ ball.
    k = modes.shape[0]
    weights = torch.rand(k, generator=gen) + 0.1
    weights[::3] = 0.0
    idx = torch.multinomial(weights, 1500, replacement=True, generator=gen)
    samples = modes[idx] + spread * torch.randn(1500, 2, generator=gen)
    got = mode_coverage(samples, modes, std)
    want = reference_mode_coverage(samples.double().numpy(), modes.double().numpy(), std)
    assert got["modes"] == want["modes"]
    assert got["high_quality"] == want["high_quality"]
    assert 0 < got["high_quality"] < 1 and 0 < got["modes"] < k
    assert got["reverse_kl"] == pytest.approx(want["reverse_kl"], abs=1e-12)


def test_all_modes_perfect():
    samples = RING.repeat(25, 1)
    assert mode_coverage(samples, RING, 0.01) == {
        "modes": 8.0,
        "high_quality": 1.0,
        "reverse_kl": 0.0,
    }


def test_one_mode():
    samples = RING[3].repeat(100, 1) + 0.001
    out = mode_coverage(samples, RING, 0.01)
    assert out["modes"] == 1.0 and out["high_quality"] == 1.0
    assert out["reverse_kl"] == pytest.approx(math.log(8), abs=1e-12)


def test_low_quality_samples_do_not_enter_histogram():
    # 50 good samples on mode 0 and 50 on mode 1 just outside 3σ: one mode, half high quality, KL log 8.
    outside = RING[1] * (1 + 3.5 * 0.01)
    samples = torch.cat([RING[0].repeat(50, 1), outside.repeat(50, 1)])
    out = mode_coverage(samples, RING, 0.01)
    assert out == {
        "modes": 1.0,
        "high_quality": 0.5,
        "reverse_kl": pytest.approx(math.log(8), abs=1e-12),
    }


def test_far_samples():
    out = mode_coverage(torch.full((40, 2), 10.0), RING, 0.01)
    assert out["modes"] == 0.0 and out["high_quality"] == 0.0 and out["reverse_kl"] == math.inf


def test_order_independence():
    gen = torch.Generator().manual_seed(2)
    samples = RING[torch.randint(0, 5, (800,), generator=gen)] + 0.02 * torch.randn(
        800, 2, generator=gen
    )
    a = mode_coverage(samples, RING, 0.01)
    b = mode_coverage(samples[torch.randperm(800, generator=gen)], RING, 0.01)
    assert a["modes"] == b["modes"] and a["high_quality"] == b["high_quality"]
    assert a["reverse_kl"] == pytest.approx(b["reverse_kl"], abs=1e-12)


def test_mode_coverage_errors():
    with pytest.raises(MetricError, match="samples must have 2 columns to match the modes, got 3"):
        mode_coverage(torch.zeros(5, 3), RING, 0.01)
    with pytest.raises(MetricError, match="std must be a finite number > 0, got 0.0"):
        mode_coverage(torch.zeros(5, 2), RING, 0.0)
    with pytest.raises(
        MetricError, match=r"samples must be a non-empty 2-D tensor \[N, d\], got \(0, 2\)"
    ):
        mode_coverage(torch.zeros(0, 2), RING, 0.01)


def test_jsd_identical_is_zero():
    grid = torch.linspace(-5, 5, 501, dtype=torch.float64)
    p = torch.exp(-0.5 * grid**2)
    assert jensen_shannon(p, 3 * p, dx=0.02) == pytest.approx(0.0, abs=1e-15)


def test_jsd_disjoint_is_log2():
    grid = torch.linspace(-10, 10, 2001, dtype=torch.float64)
    p = torch.exp(-0.5 * ((grid + 5) / 0.5) ** 2)
    q = torch.exp(-0.5 * ((grid - 5) / 0.5) ** 2)
    assert jensen_shannon(p, q, dx=0.01) == pytest.approx(math.log(2), abs=1e-3)
    box_p, box_q = (grid < -1).double(), (grid > 1).double()
    assert jensen_shannon(box_p, box_q, dx=0.01) == pytest.approx(math.log(2), abs=1e-12)


def test_jsd_errors():
    with pytest.raises(MetricError, match="p integrates to 0.0 on the grid"):
        jensen_shannon(torch.zeros(10), torch.ones(10), 0.1)
    with pytest.raises(MetricError, match="p must be finite and non-negative"):
        jensen_shannon(-torch.ones(10), torch.ones(10), 0.1)
    with pytest.raises(MetricError, match="p and q must share one grid, got 10 and 11 values"):
        jensen_shannon(torch.ones(10), torch.ones(11), 0.1)


def test_kde_and_jsd_match_scipy():
    """Parity with scipy.stats.gaussian_kde (Scott's rule) + scipy.integrate.trapezoid; tolerance 1e-10."""
    stats = pytest.importorskip("scipy.stats")
    integrate = pytest.importorskip("scipy.integrate")
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.0, 1.0, 3000), rng.normal(1.0, 1.5, 2000)
    grid = np.linspace(-8.0, 10.0, 1501)
    dx = grid[1] - grid[0]
    pa, pb = stats.gaussian_kde(a)(grid), stats.gaussian_kde(b)(grid)
    ours_a = kde_1d(torch.from_numpy(a), torch.from_numpy(grid))
    np.testing.assert_allclose(ours_a.numpy(), pa, rtol=1e-10, atol=1e-14)
    pa, pb = pa / integrate.trapezoid(pa, dx=dx), pb / integrate.trapezoid(pb, dx=dx)
    m = 0.5 * (pa + pb)
    ref = 0.5 * integrate.trapezoid(pa * np.log(pa / m), dx=dx) + 0.5 * integrate.trapezoid(
        pb * np.log(pb / m), dx=dx
    )
    ours = jensen_shannon(ours_a, kde_1d(torch.from_numpy(b), torch.from_numpy(grid)), dx)
    assert ours == pytest.approx(ref, rel=1e-10)
    assert 0.05 < ours < math.log(2)


def test_kde_explicit_bandwidth_and_chunking():
    x = torch.tensor([0.0, 1.0])
    grid = torch.tensor([0.0, 0.5])
    phi = lambda z: math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)  # noqa: E731
    want = [(phi(0) + phi(2)) / 2 / 0.5, 2 * phi(1) / 2 / 0.5]
    assert kde_1d(x, grid, bandwidth=0.5).tolist() == pytest.approx(want, rel=1e-14)
    # Many samples force several grid blocks; compare with one-shot evaluation.
    gen = torch.Generator().manual_seed(3)
    xs, g = (
        torch.randn(20_000, generator=gen, dtype=torch.float64),
        torch.linspace(-3, 3, 500, dtype=torch.float64),
    )
    direct = torch.exp(-0.5 * ((g[:, None] - xs[None]) / 0.3) ** 2).sum(1) / (
        20_000 * 0.3 * math.sqrt(2 * math.pi)
    )
    torch.testing.assert_close(kde_1d(xs, g, bandwidth=0.3), direct, rtol=1e-12, atol=0)


def test_jsd_to_gaussian():
    gen = torch.Generator().manual_seed(4)
    samples = 2.0 + 0.5 * torch.randn(20_000, generator=gen, dtype=torch.float64)
    near = jsd_to_gaussian(samples, 2.0, 0.5)
    assert 0 <= near < 0.01
    small = samples[:2000]
    assert jsd_to_gaussian(small[:, None], 2.0, 0.5) == jsd_to_gaussian(small, 2.0, 0.5)
    assert jsd_to_gaussian(small + 1.5, 2.0, 0.5) > 0.4
    assert jsd_to_gaussian(small + 10.0, 2.0, 0.5) == pytest.approx(math.log(2), abs=1e-3)
