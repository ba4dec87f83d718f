"""`fd_random`: the random network rebuilt here from its documented definition with plain torch.nn.functional calls,
the Fréchet distance redone with scipy, and `gankit eval` on .npz files and on a run.

Margins observed (2-core x86-64 CPU, float32 arithmetic): the rebuilt network's features equal gankit's exactly
(largest difference 0.0, features up to about 0.63), and the scipy Fréchet distance of the rebuilt features agrees
with the metric's row within a relative 9.1e-9 (40 vs 40 images, so the 512 × 512 covariances have rank 39 and
``scipy.linalg.sqrtm`` works on a singular product). The tolerances below leave room for other CPUs' convolution
kernels: 1e-5 of the largest feature, and a relative 1e-6. A set against itself reads 0.0 through `gankit eval`
(before the clamp at 0 it is −8.4e-9 for 64 images; the bound checked is 1e-6).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F

from gankit.cli import main
from gankit.errors import MetricError
from gankit.evaluation import EvalOptions, evaluate_samples
from gankit.fileio import cache_dir
from gankit.metrics.random_features import (
    NETWORK_SPEC,
    SEED,
    random_features,
    random_network,
    weights_sha256,
)


def rebuilt_features(x: torch.Tensor) -> torch.Tensor:
    """The documented network, written out: uint8 [N, C, H, W] → float64 [N, 512]."""
    gen = torch.Generator().manual_seed(0)
    weights, width_in = [], 3
    for width in (64, 128, 256, 512):
        for fan_in_channels in (width_in, width):
            std = math.sqrt(2.0 / (fan_in_channels * 9))
            weights.append(torch.randn(width, fan_in_channels, 3, 3, generator=gen) * std)
        width_in = width
    y = x.float() / 127.5 - 1.0
    y = y.repeat(1, 3, 1, 1) if y.shape[1] == 1 else y
    y = F.interpolate(y, size=(64, 64), mode="bilinear", align_corners=False, antialias=True)
    for stage in range(4):
        y = F.relu(F.conv2d(y, weights[2 * stage], padding=1))
        y = F.relu(F.conv2d(y, weights[2 * stage + 1], padding=1))
        y = F.avg_pool2d(y, 2)
    return y.mean(dim=(2, 3)).double()


def scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    """‖μa − μb‖² + tr(Σa + Σb − 2 (Σa Σb)^½) with np.cov and scipy.linalg.sqrtm."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sa @ sb).real
    mean = ((a.mean(0) - b.mean(0)) ** 2).sum()
    return float(mean + np.trace(sa) + np.trace(sb) - 2 * np.trace(root))


def images(n: int, channels: int = 3, side: int = 16, seed: int = 0, top: int = 256) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, top, (n, channels, side, side), dtype=np.uint8)


# 40 images: rank-39 covariances (see above), which sqrtm warns of
@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_features_and_distance_match_the_documented_network_and_scipy(tmp_path):
    a, b = images(40, seed=1), images(40, seed=2, top=200)
    ours = random_features(torch.from_numpy(a), batch=16)
    theirs = rebuilt_features(torch.from_numpy(a))
    assert ours.dtype == torch.float64 and ours.shape == (40, 512)
    scale = theirs.abs().max().item()
    assert scale > 0.1
    assert (ours - theirs).abs().max().item() <= 1e-5 * scale
    np.savez(tmp_path / "a.npz", x=a)
    np.savez(tmp_path / "b.npz", x=b)
    opts = EvalOptions(metrics=["fd_random"], reference=str(tmp_path / "b.npz"))
    (value,) = [r["value"] for r in evaluate_samples(tmp_path / "a.npz", opts)["rows"]]
    expected = scipy_fd(theirs.numpy(), rebuilt_features(torch.from_numpy(b)).numpy())
    assert expected > 0.01
    assert value == pytest.approx(expected, rel=1e-6)


def test_grey_images_are_the_grey_repeated_to_three_channels():
    grey = torch.from_numpy(images(6, channels=1, side=28, seed=3))
    got = random_features(grey)
    assert got.shape == (6, 512)
    assert torch.equal(got, random_features(grey.repeat(1, 3, 1, 1)))
    assert (got - rebuilt_features(grey)).abs().max().item() <= 1e-5 * got.abs().max().item()


def test_the_network_is_fixed_by_its_seed():
    x = torch.from_numpy(images(8, seed=4))
    assert torch.equal(random_features(x), random_features(x))
    net = random_network()
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert weights_sha256(net) == weights_sha256(random_network(SEED))
    other = random_network(1)
    assert weights_sha256(other) != weights_sha256(net)
    assert not torch.equal(random_features(x, net=other), random_features(x))
    assert NETWORK_SPEC["seed"] == SEED == 0 and NETWORK_SPEC["dim"] == 512


@pytest.mark.parametrize(
    "x",
    [
        torch.zeros(2, 3, 8, 8),
        torch.zeros(2, 2, 8, 8, dtype=torch.uint8),
        torch.zeros(3, 8, 8, dtype=torch.uint8),
        np.zeros((2, 3, 8, 8), dtype=np.uint8),
    ],
    ids=["float", "two-channels", "three-dims", "numpy"],
)
def test_wrong_inputs_are_one_line_errors(x):
    with pytest.raises(MetricError) as error:
        random_features(x)
    assert "\n" not in str(error.value) and "uint8" in str(error.value)


def _eval(capsys, *args: str) -> tuple[dict, str]:
    """`gankit eval --samples ... --metrics fd_random`: the fd_random row and what was printed."""
    assert main(["eval", "--samples", *args, "--metrics", "fd_random", "--quiet"]) == 0
    out = capsys.readouterr().out
    written = args[0][: -len(".npz")] + ".eval.json"
    (found,) = json.loads(open(written).read())["rows"]
    return found, out


def test_gankit_eval_prints_the_row_and_the_network_it_used(tmp_path, capsys):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    np.savez(a, x=images(64, seed=5))
    np.savez(b, x=images(64, seed=6, top=128))
    found, out = _eval(capsys, str(a), "--reference", str(b))
    assert found["metric"] == "fd_random" and math.isfinite(found["value"]) and found["value"] > 0
    assert found["n"] == 64 and found["reference"] == f"{b} (64)"
    features = found["protocol"]["features"]
    assert features["weights_sha256"] == weights_sha256(random_network())
    assert {k: features[k] for k in NETWORK_SPEC} == NETWORK_SPEC
    assert "fd_random" in out and "features.weights_sha256" in out
    assert "global average pool after stage 4" in out
    itself, _ = _eval(capsys, str(a), "--reference", str(a))
    assert 0.0 <= itself["value"] <= 1e-6


def test_gankit_eval_refuses_statistics_and_lists_the_metric(tmp_path, capsys):
    a, stats = tmp_path / "a.npz", tmp_path / "stats.npz"
    np.savez(a, x=images(8, seed=7))
    np.savez(stats, mu=np.zeros(2048), sigma=np.eye(2048))
    args = ["eval", "--samples", str(a), "--reference", str(stats), "--metrics", "fd_random"]
    assert main(args + ["--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a statistics file (mu, sigma) gives FID only" in err[0]
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "fd_random (Fréchet distance in a seeded random network" in " ".join(
        capsys.readouterr().out.split()
    )


def test_gankit_eval_of_a_run_uses_the_cached_reference_features(tmp_path, capsys):
    run = tmp_path / "run"
    train = ["train", "quickstart", "--data", "digits", "--run-dir", str(run), "--quiet"]
    assert main(train + ["--set", "train.steps=2", "--set", "train.sample_every=2"]) == 0
    args = ["eval", str(run), "--metrics", "fd_random", "--n", "48", "--n-ref", "48", "--quiet"]
    values = []
    for _ in range(2):  # the second reads the reference's features from the cache
        assert main(args) == 0
        (found,) = json.loads((run / "eval.json").read_text())["rows"]
        values.append(found["value"])
    assert found["reference"] == "digits:test (48)" and found["protocol"]["generator"] in (
        "ema",
        "raw",
    )
    assert math.isfinite(values[0]) and values[0] > 0 and values[1] == values[0]
    assert "fd_random" in capsys.readouterr().out
    assert any((cache_dir() / "stats").glob("random_features-*.safetensors"))
