"""Parzen-window protocol (Goodfellow et al., 2014) against a plain numpy/scipy reference written here."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from scipy.special import logsumexp

from gankit.errors import MetricError
from gankit.metrics.parzen import (
    SIGMAS,
    ParzenResult,
    parzen_log_likelihood,
    parzen_protocol,
    select_sigma,
)


def ref_parzen(centres: np.ndarray, x: np.ndarray, sigma: float) -> np.ndarray:
    """log p(x) = logsumexp_i(−‖x−μ_i‖²/2σ²) − log N − (d/2) log(2πσ²), straight from the definition."""
    n, d = centres.shape
    a = -cdist(x, centres, "sqeuclidean") / (2 * sigma**2)
    return logsumexp(a, axis=1) - math.log(n) - d / 2 * math.log(2 * math.pi * sigma**2)


def ref_protocol(centres, x_val, x_test):
    sigmas = np.logspace(-1, 0, 10)
    scores = [ref_parzen(centres, x_val, s).mean() for s in sigmas]
    best = sigmas[int(np.argmax(scores))]
    lls = ref_parzen(centres, x_test, best)
    return best, scores, lls.mean(), lls.std() / np.sqrt(len(lls))


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(0)
    centres = torch.rand(300, 6, generator=gen)  # float32 like generator output in [0, 1]
    x_val = torch.rand(80, 6, generator=gen, dtype=torch.float64)
    x_test = torch.rand(120, 6, generator=gen, dtype=torch.float64)
    return centres, x_val, x_test


def test_sigma_grid_is_the_papers():
    assert SIGMAS.dtype == torch.float64 and SIGMAS.shape == (10,)
    np.testing.assert_allclose(SIGMAS.numpy(), np.logspace(-1, 0, 10), rtol=1e-15)


@pytest.mark.parametrize("sigma", [0.1, 0.27, 1.0])
def test_log_likelihood_matches_reference(data, sigma):
    centres, _, x_test = data
    got = parzen_log_likelihood(centres, x_test, sigma)
    assert got.dtype == torch.float64 and got.shape == (120,)
    np.testing.assert_allclose(
        got.numpy(), ref_parzen(centres.double().numpy(), x_test.numpy(), sigma), rtol=1e-6
    )


def test_log_likelihood_does_not_depend_on_chunks(data):
    centres, _, x_test = data
    whole = parzen_log_likelihood(centres, x_test, 0.2)
    for cx, cc in [(1, 1000), (7, 13), (120, 299), (50, 1)]:
        parts = parzen_log_likelihood(centres, x_test, 0.2, chunk_x=cx, chunk_centres=cc)
        np.testing.assert_allclose(parts.numpy(), whole.numpy(), rtol=1e-12)


def test_single_centre_closed_form():
    mu = torch.tensor([[0.3, 0.7, 0.1]], dtype=torch.float64)
    sigma = 0.5
    ll = parzen_log_likelihood(
        mu, mu + torch.tensor([[sigma, 0.0, 0.0]], dtype=torch.float64), sigma
    )
    assert ll.item() == pytest.approx(-0.5 - 1.5 * math.log(2 * math.pi * sigma**2), rel=1e-12)


def test_far_points_do_not_underflow():
    centres = torch.zeros(5, 4, dtype=torch.float64)
    # exp(−3600/0.02) underflows; log-sum-exp must not
    x = torch.full((2, 4), 30.0, dtype=torch.float64)
    got = parzen_log_likelihood(centres, x, 0.1, chunk_centres=2)
    np.testing.assert_allclose(got.numpy(), ref_parzen(centres.numpy(), x.numpy(), 0.1), rtol=1e-12)
    assert torch.isfinite(got).all()


def test_select_sigma_picks_the_brute_force_choice(data):
    centres, x_val, _ = data
    best, scores = select_sigma(centres, x_val, chunk_x=30, chunk_centres=70)
    ref_best, ref_scores, _, _ = ref_protocol(
        centres.double().numpy(), x_val.numpy(), x_val.numpy()
    )
    assert best == pytest.approx(ref_best, rel=1e-12)
    assert SIGMAS[0] < best < SIGMAS[-1]  # an interior optimum, so the choice is informative
    assert list(scores) == [float(s) for s in SIGMAS]
    np.testing.assert_allclose(list(scores.values()), ref_scores, rtol=1e-6)


def test_protocol_matches_reference(data):
    centres, x_val, x_test = data
    res = parzen_protocol(centres, x_val, x_test, chunk_x=64, chunk_centres=100)
    ref_best, _, ref_mean, ref_sem = ref_protocol(
        centres.double().numpy(), x_val.numpy(), x_test.numpy()
    )
    assert isinstance(res, ParzenResult) and res.n == 120 and len(res.sigma_scores) == 10
    assert res.sigma == pytest.approx(ref_best, rel=1e-12)
    assert res.mean == pytest.approx(ref_mean, rel=1e-6)
    assert res.sem == pytest.approx(ref_sem, rel=1e-6)


def test_protocol_with_fixed_sigma_skips_selection(data):
    centres, x_val, x_test = data
    res = parzen_protocol(centres, x_val, x_test, sigma=0.5)
    assert res.sigma == 0.5 and res.sigma_scores == {}
    assert res.mean == pytest.approx(
        ref_parzen(centres.double().numpy(), x_test.numpy(), 0.5).mean(), rel=1e-6
    )


def test_errors_name_the_problem(data):
    centres, x_val, x_test = data
    with pytest.raises(MetricError, match="dims"):
        parzen_log_likelihood(centres, x_test[:, :5], 0.1)
    with pytest.raises(MetricError, match="σ must be positive"):
        parzen_log_likelihood(centres, x_test, 0.0)
    with pytest.raises(MetricError, match="2-D"):
        parzen_log_likelihood(centres[0], x_test, 0.1)
    with pytest.raises(MetricError, match="chunk_x"):
        parzen_log_likelihood(centres, x_test, 0.1, chunk_x=0)
    with pytest.raises(MetricError, match="validation"):
        parzen_protocol(centres, None, x_test)
