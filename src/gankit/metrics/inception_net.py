"""The 2015 TensorFlow Inception-v3 of FID and IS as a plain PyTorch module, for weights that come as a state dict —
the ``pt_inception-2015-12-05-*.pth`` that pytorch-fid distributes (the TF graph's weights under torchvision's
``Inception3`` names, 1,008-way classifier ``fc`` included).

The network differs from torchvision's ImageNet Inception-v3 where the TF graph did: batch norm has no scale (β only,
ε 0.001), the average pools inside the mixed blocks do not count padding, and the last block (``Mixed_7c``) pools its
fourth branch with a 3×3 max pool. Input: float32 ``[N, 3, 299, 299]`` already preprocessed (gankit's
:func:`gankit.metrics.inception.preprocess`, the same as for the TorchScript network); output: pool features
``[N, 2048]``; :meth:`InceptionV3.logits` gives the classifier's logits ``[N, 1008]`` with or without its bias.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import MetricError

NUM_CLASSES = 1008


class Conv(nn.Module):
    """Convolution (no bias) → batch norm with inference statistics (ε 0.001) → ReLU."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _max3(x: Tensor) -> Tensor:
    return F.max_pool2d(x, 3, stride=1, padding=1)


class BlockA(nn.Module):
    """35×35 block: 1×1; 1×1 → 5×5; 1×1 → 3×3 → 3×3; avg pool → 1×1 (``pool`` channels)."""

    def __init__(self, cin: int, pool: int) -> None:
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = Conv(cin, 48, 1), Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64, 1)
        self.branch3x3dbl_2, self.branch3x3dbl_3 = (
            Conv(64, 96, 3, padding=1),
            Conv(96, 96, 3, padding=1),
        )
        self.branch_pool = Conv(cin, pool, 1)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg3(x)),
            ],
            1,
        )


class BlockB(nn.Module):
    """35 → 17 reduction: 3×3 stride 2; 1×1 → 3×3 → 3×3 stride 2; 3×3 max pool stride 2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1, self.branch3x3dbl_2 = Conv(cin, 64, 1), Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class BlockC(nn.Module):
    """17×17 block with factorised 7×7 convolutions (``c7`` channels inside); avg pool → 1×1."""

    def __init__(self, cin: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2 = Conv(cin, c7, 1), Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = self.branch7x7dbl_3(self.branch7x7dbl_2(self.branch7x7dbl_1(x)))
        d = self.branch7x7dbl_5(self.branch7x7dbl_4(d))
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg3(x))], 1)


class BlockD(nn.Module):
    """17 → 8 reduction: 1×1 → 3×3 stride 2; 1×1 → 1×7 → 7×1 → 3×3 stride 2; 3×3 max pool stride 2."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = Conv(cin, 192, 1), Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1, self.branch7x7x3_2 = (
            Conv(cin, 192, 1),
            Conv(192, 192, (1, 7), padding=(0, 3)),
        )
        self.branch7x7x3_3, self.branch7x7x3_4 = (
            Conv(192, 192, (7, 1), padding=(3, 0)),
            Conv(192, 192, 3, stride=2),
        )

    def forward(self, x: Tensor) -> Tensor:
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat(
            [self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1
        )


class BlockE(nn.Module):
    """8×8 block with split 1×3 / 3×1 outputs; the fourth branch pools with ``pool`` (avg or max) → 1×1."""

    def __init__(self, cin: int, pool: str) -> None:
        super().__init__()
        self.pool = _avg3 if pool == "avg" else _max3
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1 = Conv(cin, 384, 1)
        self.branch3x3_2a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1, self.branch3x3dbl_2 = Conv(cin, 448, 1), Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.branch3x3_1(x)
        b = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch3x3_2a(a),
                self.branch3x3_2b(a),
                self.branch3x3dbl_3a(b),
                self.branch3x3dbl_3b(b),
                self.branch_pool(self.pool(x)),
            ],
            1,
        )


class InceptionV3(nn.Module):
    """The FID/IS Inception-v3 with torchvision's parameter names: ``forward`` → pool features ``[N, 2048]``."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3, self.Conv2d_2a_3x3 = Conv(3, 32, 3, stride=2), Conv(32, 32, 3)
        self.Conv2d_2b_3x3, self.Conv2d_3b_1x1 = Conv(32, 64, 3, padding=1), Conv(64, 80, 1)
        self.Conv2d_4a_3x3 = Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = (
            BlockA(192, 32),
            BlockA(256, 64),
            BlockA(288, 64),
        )
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c = BlockC(768, 128), BlockC(768, 160)
        self.Mixed_6d, self.Mixed_6e = BlockC(768, 160), BlockC(768, 192)
        self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = (
            BlockD(768),
            BlockE(1280, "avg"),
            BlockE(2048, "max"),
        )
        self.fc = nn.Linear(2048, NUM_CLASSES)
        self.has_classifier = False  # set by load_state_dict_network: whether the file held ``fc``

    def forward(self, x: Tensor) -> Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, stride=2)))
        x = F.max_pool2d(x, 3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def logits(self, features: Tensor, bias: bool = True) -> Tensor:
        """Classifier logits ``[N, 1008]`` of pool features ``[N, 2048]``; ``bias=False`` as the IS code did."""
        return F.linear(features, self.fc.weight, self.fc.bias if bias else None)


def load_inception(path: Path, device: torch.device) -> nn.Module:
    """The network in ``path``: a TorchScript file (loaded with ``torch.jit.load``) or a state dict of
    :class:`InceptionV3` (loaded with ``torch.load(weights_only=True)``: tensors only, nothing else is unpickled)."""
    if not path.is_file():
        raise MetricError(
            f"Inception weights not found at {path}: pass an existing TorchScript or .pth file"
        )
    try:
        return torch.jit.load(str(path), map_location=device)
    except Exception:  # torch reports every non-TorchScript file as RuntimeError or similar
        pass
    try:
        state = torch.load(str(path), map_location=device, weights_only=True)
    except Exception as exc:
        raise MetricError(
            f"{path}: neither a TorchScript file nor a state dict ({type(exc).__name__})"
        ) from None
    return load_state_dict_network(path, state, device)


def load_state_dict_network(path: Path | str, state: object, device: torch.device) -> InceptionV3:
    """An :class:`InceptionV3` holding ``state`` (read from ``path``, which names it in errors). Batch-norm scales
    absent from the file are 1 (the TF graph had none); ``num_batches_tracked`` entries are ignored. A missing
    classifier (``fc``) leaves the network usable for features only (``has_classifier`` False)."""
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise MetricError(f"{path}: neither a TorchScript file nor a state dict of tensors")
    net = InceptionV3()
    tracked = "num_batches_tracked"  # a batch-norm counter torch adds; inference does not use it
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith(tracked)}
    given = {k: v for k, v in state.items() if not k.endswith(tracked)}
    optional = {k for k in expected if k.endswith(".bn.weight") or k.startswith("fc.")}
    missing = sorted(set(expected) - set(given) - optional)
    unknown = sorted(set(given) - set(expected))
    if missing or unknown:
        what = f"missing {missing[0]}" if missing else f"unexpected {unknown[0]}"
        raise MetricError(
            f"{path}: not a TorchScript file, nor the FID Inception-v3 state dict (pytorch-fid's "
            f"pt_inception-*.pth): "
            f"{what} ({len(missing)} missing, {len(unknown)} unexpected keys)"
        )
    for key, value in given.items():
        if value.shape != expected[key].shape:
            raise MetricError(
                f"{path}: {key} has shape {list(value.shape)}, expected {list(expected[key].shape)}"
            )
    net.load_state_dict({**expected, **given}, strict=False)  # only the counters are left out
    net.has_classifier = "fc.weight" in given and "fc.bias" in given
    return net.eval().to(device)
