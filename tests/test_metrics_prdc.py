"""Precision/recall (Kynkäänniemi et al., 2019) and density/coverage (Naeem et al., 2020) against scipy cdist."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from gankit.errors import MetricError
from gankit.metrics.prdc import density_coverage, precision_recall


def ref_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance to the k-th nearest other point: full matrix, own entry removed, sorted."""
    d = cdist(x, x)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, k - 1]


def ref_prdc(real: np.ndarray, fake: np.ndarray, k_pr: int = 3, k_dc: int = 5) -> dict:
    d_fr = cdist(fake, real)  # [M, N]
    inside_real_pr = d_fr <= ref_radii(real, k_pr)[None, :]
    inside_fake_pr = d_fr.T <= ref_radii(fake, k_pr)[None, :]
    inside_real_dc = d_fr <= ref_radii(real, k_dc)[None, :]
    return {
        "precision": inside_real_pr.any(axis=1).sum() / len(fake),
        "recall": inside_fake_pr.any(axis=1).sum() / len(real),
        "density": inside_real_dc.sum() / (k_dc * len(fake)),
        "coverage": inside_real_dc.any(axis=0).sum() / len(real),
    }


def cloud(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen) * scale + shift


def col(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).unsqueeze(1)


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.7, 1.0), (0.0, 0.6), (0.3, 1.5)])
def test_prdc_match_reference_exactly(shift, scale):
    real, fake = cloud(230, 6, 0), cloud(170, 6, 1, shift, scale)
    ref = ref_prdc(real.double().numpy(), fake.double().numpy())
    got = {**precision_recall(real, fake), **density_coverage(real, fake)}
    assert got == ref
    assert all(isinstance(v, float) for v in got.values())


def test_prdc_do_not_depend_on_chunk_size():
    real, fake = cloud(150, 5, 2), cloud(120, 5, 3, 0.4)
    pr, dc = precision_recall(real, fake), density_coverage(real, fake)
    for chunk in (1, 7, 64, 149, 150, 10_000):
        assert precision_recall(real, fake, chunk=chunk) == pr
        assert density_coverage(real, fake, chunk=chunk) == dc


def test_precision_recall_by_hand_in_1d():
    # real [0, 1, 2, 4], k = 1, self excluded: radii 1, 1, 1, 2 → balls [-1,1] [0,2] [1,3] [2,6].
    # fakes -1 and 6 lie exactly on a boundary (inside, ≤), 3 is inside, 6.5 and 7 are outside → 3/5.
    # (Strict < would give 1/5; counting the point itself as its nearest neighbour would give radius 0 and 0/5.)
    real, fake = col(0, 1, 2, 4), col(-1, 3, 6, 6.5, 7)
    assert precision_recall(real, fake, k=1)["precision"] == 0.6
    # fakes [0, 2, 5], k = 1: radii 2, 2, 3 → balls [-2,2] [0,4] [2,8]; reals -2 and 8 on a boundary, 4.5 inside,
    # 9 outside → recall 3/4; every fake is inside the real balls [-8.5,4.5] [1,8] [7,9] [8,10] → precision 1.
    assert precision_recall(col(-2, 8, 9, 4.5), col(0, 2, 5), k=1) == {
        "precision": 1.0,
        "recall": 0.75,
    }
    # k = 2 (the 2nd neighbour): real radii 2, 1, 2, 3 → balls [-2,2] [0,2] [0,4] [1,7]: all five fakes inside.
    assert precision_recall(real, fake, k=2)["precision"] == 1.0


def test_density_coverage_by_hand_in_1d():
    # real balls (k = 1) [-1,1] [0,2] [1,3] [2,6]; fake -1 in 1 ball, 3 in 2, 6 in 1, 6.5 and 7 in none:
    # density = 4 / (1·5); balls hit: 1st, 3rd, 4th → coverage 3/4.
    assert density_coverage(col(0, 1, 2, 4), col(-1, 3, 6, 6.5, 7), k=1) == {
        "density": 0.8,
        "coverage": 0.75,
    }
    # duplicates are neighbours of each other (self is excluded by index, not by value): radii 0, 0, 5.
    assert density_coverage(col(0, 0, 5), col(0, 0.5), k=1) == {"density": 2.0, "coverage": 1.0}


def test_recall_is_precision_with_roles_swapped():
    real, fake = cloud(90, 4, 4), cloud(70, 4, 5, 0.5, 0.8)
    pr, rp = precision_recall(real, fake), precision_recall(fake, real)
    assert pr["recall"] == rp["precision"] and pr["precision"] == rp["recall"]


def test_errors_name_the_problem():
    real, fake = cloud(10, 3, 0), cloud(10, 3, 1)
    with pytest.raises(MetricError, match="feature dims differ"):
        precision_recall(real, fake[:, :2])
    with pytest.raises(MetricError, match="more than 5 real samples, got 5"):
        density_coverage(real[:5], fake)
    with pytest.raises(MetricError, match="more than 3 fake samples, got 3"):
        precision_recall(real, fake[:3])
    with pytest.raises(MetricError, match="k must be a positive integer"):
        precision_recall(real, fake, k=0)
