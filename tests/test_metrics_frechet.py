"""FID maths (Heusel et al., 2017) and KID (Bińkowski et al., 2018) against plain numpy/scipy references."""

import numpy as np
import pytest
import scipy.linalg
import torch

from gankit.errors import MetricError
from gankit.metrics.frechet import (
    FeatureStats,
    feature_stats,
    frechet_distance,
    kid,
    kid_subset_indices,
)


def ref_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The usual recipe: np.mean/np.cov and scipy.linalg.sqrtm of the covariance product."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(sa @ sb).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * np.trace(covmean))


def ref_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(a, b) = (a·b/d + 1)³, by explicit double loops over pairs."""
    m, d = x.shape
    k = lambda a, b: (float(np.dot(a, b)) / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def features(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=gen, dtype=torch.float64) / d**0.5
    return (torch.randn(n, d, generator=gen, dtype=torch.float64) @ mix * scale + shift).float()


def test_feature_stats_match_numpy_and_ignore_chunking():
    x = features(257, 12, 0, shift=3.0)
    st = feature_stats(x)
    assert st.mu.dtype == st.sigma.dtype == torch.float64 and st.n == 257
    xn = x.double().numpy()
    np.testing.assert_allclose(st.mu.numpy(), xn.mean(0), rtol=1e-12)
    np.testing.assert_allclose(st.sigma.numpy(), np.cov(xn, rowvar=False), rtol=1e-10, atol=1e-13)
    for chunk in (1, 2, 7, 100, 256):
        other = feature_stats(x, chunk=chunk)
        np.testing.assert_allclose(other.mu.numpy(), st.mu.numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(other.sigma.numpy(), st.sigma.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.5, 1.0), (0.0, 2.0), (1.0, 0.3)])
def test_fid_matches_scipy_sqrtm(shift, scale):
    a, b = features(400, 16, 1), features(300, 16, 2, shift=shift, scale=scale)
    got = frechet_distance(feature_stats(a), feature_stats(b, chunk=33))
    assert got == pytest.approx(ref_fid(a.double().numpy(), b.double().numpy()), rel=1e-4)


def test_fid_of_diagonal_gaussians_closed_form():
    mu_a, mu_b = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    var_a, var_b = torch.tensor([1.0, 4.0, 0.25]), torch.tensor([9.0, 1.0, 0.25])
    st = lambda mu, var: FeatureStats(mu.double(), torch.diag(var).double(), 10)  # noqa: E731
    expected = ((mu_a - mu_b) ** 2).sum() + (
        (var_a.sqrt() - var_b.sqrt()) ** 2
    ).sum()  # 5 + 4 + 1 = 10
    assert frechet_distance(st(mu_a, var_a), st(mu_b, var_b)) == pytest.approx(
        expected.item(), rel=1e-12
    )


@pytest.mark.parametrize("n", [500, 10])  # full-rank and rank-deficient (n < d) covariances
def test_fid_of_a_set_with_itself_is_zero(n):
    x = features(n, 32, 3, shift=2.0)
    assert abs(frechet_distance(feature_stats(x), feature_stats(x, chunk=3))) < 1e-6


def test_fid_rejects_mismatched_dims():
    with pytest.raises(MetricError, match="different feature dims: 8 vs 6"):
        frechet_distance(feature_stats(features(20, 8, 0)), feature_stats(features(20, 6, 0)))
    with pytest.raises(MetricError, match="at least 2"):
        feature_stats(torch.zeros(1, 4))


def test_kid_subsets_are_seeded_draws_without_replacement():
    pairs = kid_subset_indices(50, 40, 30, 5, seed=7)
    assert pairs is not None and len(pairs) == 5
    gen = torch.Generator().manual_seed(7)  # the documented draw, redone here
    for ir, jf in pairs:
        assert torch.equal(ir, torch.randperm(50, generator=gen)[:30])
        assert torch.equal(jf, torch.randperm(40, generator=gen)[:30])
        assert len(set(ir.tolist())) == 30 and len(set(jf.tolist())) == 30
    assert not torch.equal(kid_subset_indices(50, 40, 30, 1, seed=8)[0][0], pairs[0][0])


def test_kid_matches_loop_reference():
    real, fake = features(60, 5, 4), features(45, 5, 5, shift=0.3)
    mean, std = kid(real, fake, subset_size=20, subsets=6, seed=3)
    r, f = real.double().numpy(), fake.double().numpy()
    vals = np.array(
        [ref_mmd2(r[ir.numpy()], f[jf.numpy()]) for ir, jf in kid_subset_indices(60, 45, 20, 6, 3)]
    )
    assert mean == pytest.approx(vals.mean(), rel=1e-12, abs=1e-12)
    assert std == pytest.approx(vals.std(), rel=1e-12, abs=1e-12)
    assert kid(real, fake, subset_size=20, subsets=6, seed=3) == (mean, std)
    assert mean > 0.0


def test_kid_subset_larger_than_samples_is_an_error():
    real, fake = features(1200, 4, 0), features(500, 4, 1)
    with pytest.raises(
        MetricError, match="KID subset size 1000 exceeds the 500 fake samples; pass a smaller"
    ):
        kid(real, fake)
    with pytest.raises(MetricError, match="exceeds the 30 real samples"):
        kid(real[:30], fake, subset_size=40)
    with pytest.raises(MetricError, match="feature dims differ"):
        kid(real, fake[:, :3], subset_size=10)
