"""Every preset trains under every class conditioning ``model.conditional`` accepts (a few steps each, on small
labelled data of the preset's kind, networks narrowed), or refuses it with a one-line error when its data has no
labels; and the command line trains pictures64 on a folder of class subfolders with a projection D."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.config import ModelConfig, load_config, preset_names
from gankit.data import Dataset, Split, load_dataset
from gankit.errors import ConfigError
from gankit.models import build_models
from gankit.regularizers import r1_penalty
from gankit.train import Trainer

MODES = [
    mode
    for mode in next(
        f for f in dataclasses.fields(ModelConfig) if f.name == "conditional"
    ).metadata["choices"]
    if mode != "none"
]
FAST = [
    "train.steps=2",
    "train.batch_size=8",
    "train.log_every=1",
    "train.sample_every=1000",
    "train.checkpoint_every=1000",
    "train.grid_size=4",
    "data.n_samples=64",
    "data.stacks=64",
]
NARROW = {"width": 8, "hidden": 16}  # the presets' size keys that are set, narrowed


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> str:
    """folder:PATH of 16 random 64×64 RGB PNGs in two class subfolders."""
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for i in range(16):
        (root / f"c{i % 2}").mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"c{i % 2}" / f"{i}.png")
    return f"folder:{root}"


@pytest.fixture(scope="module")
def digits() -> Dataset:
    """64 labelled mnist5k digits (uint8 [64, 1, 28, 28]), the stand-in for the MNIST and Fashion-MNIST presets."""
    train = load_dataset(load_config("quickstart").data).train
    return Dataset("mnist5k", "image", {"train": Split(train.x[:64], train.y[:64])}, num_classes=10)


def _config(preset: str, mode: str, folder: str):
    """The preset with ``mode``, a few fast steps, narrowed networks and, for pictures, the class folder."""
    base = load_config(preset, [f"model.conditional={mode}"])
    inert = set(base.inert_keys())
    extra = [f"model.{k}={v}" for k, v in NARROW.items() if f"model.{k}" not in inert]
    if base.data.name.startswith(("folder:", "emoji")):
        extra.append(f"data.name={folder}")
    return load_config(preset, [f"model.conditional={mode}", *FAST, *extra])


def _data(cfg, digits: Dataset) -> Dataset:
    """mnist5k's digits for the presets on MNIST or Fashion-MNIST, else the config's own (small) data."""
    if cfg.data.name in ("mnist", "fashion-mnist", "mnist5k"):
        return digits
    return load_dataset(cfg.data)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_trains_under_every_conditioning(preset, mode, class_folder, digits, tmp_path):
    """Two steps with finite losses (an AC-GAN D's class losses too); data without labels (gauss1d) is refused."""
    cfg = _config(preset, mode, class_folder)
    data = _data(cfg, digits)
    if data.train.y is None:
        with pytest.raises(ConfigError) as refused:
            Trainer(cfg, tmp_path / "run", dataset=data)
        message = str(refused.value)
        assert "needs class labels" in message and "\n" not in message
        return
    trainer = Trainer(cfg, tmp_path / "run", dataset=data)
    row = trainer.fit()
    assert trainer.num_classes >= 2 and trainer.G.num_classes == trainer.num_classes
    assert row["step"] == 2
    losses = ["d_loss", "g_loss"] + (["d_class_loss", "g_class_loss"] if mode == "acgan" else [])
    assert all(math.isfinite(row[key]) for key in losses), row


def test_cli_trains_pictures64_with_a_projection_d_on_class_folders(class_folder, tmp_path):
    """The reported command: R1 on a conditional D inside model.inner_resolution's wrapper."""
    run = tmp_path / "run"
    argv = ["train", "pictures64", "--data", class_folder, "--set", "model.conditional=projection"]
    argv += ["--set", "train.steps=2", "--set", "train.batch_size=8", "--quiet"]
    assert main(argv + ["--run-dir", str(run)]) == 0
    assert (run / "checkpoints" / "latest").exists()


def test_downsampled_d_passes_labels_and_classes_like_its_inner_d():
    """model.inner_resolution's D takes labels as the conditional Ds do (positional or ``y=``) and offers an AC-GAN
    D's class head; R1 through it is finite."""
    x, y = torch.rand(4, 3, 64, 64), torch.tensor([0, 1, 2, 0])
    for mode in MODES:
        model = dataclasses.replace(
            load_config("pictures64").model, conditional=mode, width=4, inner_resolution=32
        )
        torch.manual_seed(0)
        _, D = build_models(model, sample_shape=(3, 64, 64), kind="image", num_classes=3)
        assert torch.equal(D(x, y), D(x, y=y))
        assert torch.isfinite(r1_penalty(lambda v: D(v, y), x))
        assert hasattr(D, "forward_with_classes") == (mode == "acgan")
        if mode == "acgan":
            logits, classes = D.forward_with_classes(x)
            assert torch.equal(logits, D(x)) and classes.shape == (4, 3)
