"""SmallCNN, its training, its cache and the class-histogram scores."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch

from gankit.errors import MetricError
from gankit.metrics import classifier as clf
from gankit.metrics.classifier import (
    SmallCNN,
    classifier_features,
    classifier_scores,
    load_or_train_classifier,
    train_classifier,
)


def blocks(n: int, seed: int, noise: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """10 classes = a bright 7×7 block at 10 distinct places of a 28×28 image, plus uniform noise; uint8."""
    patterns = torch.zeros(10, 1, 28, 28)
    for c in range(10):
        r, q = divmod(c, 4)
        patterns[c, 0, r * 9 + 1 : r * 9 + 8, q * 7 : q * 7 + 7] = 1.0
    y = torch.arange(n) % 10
    x = patterns[y] * (1 - noise) + noise * torch.rand(
        n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)
    )
    return (x * 255).round().to(torch.uint8), y


def tiny(n: int = 60, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, 8, 8), generator=gen, dtype=torch.uint8), torch.arange(
        n
    ) % 10


def test_shapes():
    m = SmallCNN()
    x = torch.rand(2, 1, 28, 28)
    assert m(x).shape == (2, 10) and m.features(x).shape == (2, 128)
    m8 = SmallCNN(resolution=8, num_classes=5, width=8)
    assert m8(torch.rand(3, 1, 8, 8)).shape == (3, 5) and m8.features(
        torch.rand(3, 1, 8, 8)
    ).shape == (3, 128)
    assert SmallCNN(in_channels=3, resolution=7)(torch.rand(1, 3, 7, 7)).shape == (1, 10)
    with pytest.raises(MetricError, match="resolution must be an int >= 1, got 0"):
        SmallCNN(resolution=0)
    with pytest.raises(TypeError, match="positional argument"):
        SmallCNN(1)  # keyword-only


def test_train_separable_problem():
    (x_tr, y_tr), (x_te, y_te) = blocks(100, 1), blocks(50, 2)
    # 10 Adam steps
    model, acc = train_classifier(x_tr, y_tr, x_te, y_te, epochs=1, batch_size=10, lr=3e-3)
    assert acc > 0.9
    assert not model.training
    pred = model(x_te.float() / 255).argmax(1)
    assert (pred == y_te).float().mean().item() == pytest.approx(acc)


def test_train_deterministic_and_validated():
    x, y = tiny()
    state = lambda m: m.state_dict().values()  # noqa: E731
    a, acc_a = train_classifier(x, y, x, y, epochs=1, batch_size=16, seed=5)
    b, acc_b = train_classifier(x, y, x, y, epochs=1, batch_size=16, seed=5)
    c, _ = train_classifier(x, y, x, y, epochs=1, batch_size=16, seed=6)
    assert acc_a == acc_b and all(torch.equal(p, q) for p, q in zip(state(a), state(b)))
    assert not all(torch.equal(p, q) for p, q in zip(state(a), state(c)))
    with pytest.raises(MetricError, match="x_train must be a non-empty uint8 tensor"):
        train_classifier(x.float(), y, x, y)
    with pytest.raises(MetricError, match=r"y_train must lie in \[0, 10\), got \[10, 19\]"):
        train_classifier(x, y + 10, x, y)


def test_cache_roundtrip_and_corruption(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    x, y = tiny()
    x_te, y_te = tiny(30, seed=1)
    calls = []
    real_train = clf.train_classifier

    def counting_train(*args, **kwargs):
        calls.append(kwargs)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(clf, "train_classifier", counting_train)
    model, acc = load_or_train_classifier("tiny", x, y, x_te, y_te, epochs=1, seed=3)
    assert len(calls) == 1
    files = sorted(p.name for p in (tmp_path / "classifiers").iterdir())
    assert len(files) == 2 and files[0].startswith("tiny-") and files[0].endswith(".json")
    tensor_file = tmp_path / "classifiers" / files[1]
    meta = json.loads((tmp_path / "classifiers" / files[0]).read_text())
    assert meta["test_accuracy"] == acc and meta["epochs"] == 1 and meta["seed"] == 3
    assert meta["arch"] == {"in_channels": 1, "resolution": 8, "num_classes": 10, "width": 32}
    assert meta["train_fingerprint"] in files[1]

    def fail(*args, **kwargs):
        raise AssertionError("should load from the cache")

    monkeypatch.setattr(clf, "train_classifier", fail)
    loaded, acc2 = load_or_train_classifier("tiny", x, y, x_te, y_te, epochs=1, seed=3)
    assert acc2 == acc and not loaded.training
    assert all(
        torch.equal(p, q) for p, q in zip(model.state_dict().values(), loaded.state_dict().values())
    )
    # A new test set re-scores the cached weights without training.
    _, acc3 = load_or_train_classifier("tiny", x, y, x, y, epochs=1, seed=3)
    assert acc3 == clf._accuracy(loaded, x, y)

    data = bytearray(tensor_file.read_bytes())
    data[-1] ^= 0xFF
    tensor_file.write_bytes(bytes(data))
    monkeypatch.setattr(clf, "train_classifier", counting_train)
    with caplog.at_level(logging.WARNING, logger="gankit.metrics.classifier"):
        _, acc4 = load_or_train_classifier("tiny", x, y, x_te, y_te, epochs=1, seed=3)
    assert len(calls) == 2 and acc4 == acc
    assert any("SHA-256" in r.getMessage() for r in caplog.records)
    # Other training data → another cache entry.
    load_or_train_classifier("tiny", x[:50], y[:50], x_te, y_te, epochs=1, seed=3)
    assert len(calls) == 3 and len(list((tmp_path / "classifiers").iterdir())) == 4


class ConstantClassCNN(SmallCNN):
    """Predicts class round(pixel value / 20) of a constant image: predictions under the test's control."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cls = torch.round(x.mean(dim=(1, 2, 3)) * 255 / 20).long()
        return torch.nn.functional.one_hot(cls, 12).float()


def constant_images(classes: list[int]) -> torch.Tensor:
    return (
        torch.tensor(classes, dtype=torch.uint8)
        .mul(20)
        .view(-1, 1, 1, 1)
        .expand(-1, 1, 8, 8)
        .contiguous()
    )


def test_scores_against_hand_computation():
    model = ConstantClassCNN(resolution=8)
    classes = [0] * 5 + [2] * 3 + [3] * 2
    want_kl = 0.5 * math.log(0.5 * 10) + 0.3 * math.log(0.3 * 10) + 0.2 * math.log(0.2 * 10)
    for batch_size in (3, 500):
        out = classifier_scores(model, constant_images(classes), batch_size=batch_size)
        assert out["histogram"] == [5, 0, 3, 2, 0, 0, 0, 0, 0, 0]
        assert out["classes_covered"] == 3
        assert out["class_kl"] == pytest.approx(want_kl, abs=1e-12)
    uniform = classifier_scores(model, constant_images(list(range(10)) * 2))
    assert uniform["class_kl"] == pytest.approx(0.0, abs=1e-12) and uniform["classes_covered"] == 10
    one = classifier_scores(model, constant_images([7] * 9))
    assert one["classes_covered"] == 1 and one["class_kl"] == pytest.approx(math.log(10), abs=1e-12)
    with pytest.raises(MetricError, match="predicts class 11, outside num_classes=10"):
        classifier_scores(model, constant_images([11]))
    with pytest.raises(MetricError, match="images must be a non-empty uint8 tensor"):
        classifier_scores(model, constant_images([1]).float())


def test_features():
    model = SmallCNN(resolution=8, width=8).eval()
    x, _ = tiny(25)
    feats = classifier_features(model, x, batch_size=7)
    assert feats.shape == (25, 128) and feats.dtype == torch.float32
    torch.testing.assert_close(feats, classifier_features(model, x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(
        feats, model.features(x.float() / 255).detach(), rtol=1e-5, atol=1e-6
    )
    with pytest.raises(MetricError, match="images have 3 channels, the classifier expects 1"):
        classifier_features(model, torch.zeros(2, 3, 8, 8, dtype=torch.uint8))


def test_classifier_feature_frechet():
    from gankit.metrics.frechet import feature_stats, frechet_distance

    model = SmallCNN(resolution=8, width=8).eval()
    x, _ = tiny(40)
    stats = feature_stats(classifier_features(model, x))
    assert frechet_distance(stats, stats) == pytest.approx(0.0, abs=1e-6)
    shifted = feature_stats(classifier_features(model, (x // 4 + 180).to(torch.uint8)))
    assert frechet_distance(stats, shifted) > 1e-3
