"""Models of one's own: an architecture registered in a module of the user's is chosen from a YAML config, trained
and sampled by the command line; a run of modules passed to the Trainer gets a one-line error from ``gankit
sample``; channels-last follows from what a module is, not from its architecture's name."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch
from gankit_testkit import quick_config
from torch import nn

from gankit.cli import main
from gankit.config import ModelConfig, load_config
from gankit.data import Dataset, Split
from gankit.errors import ConfigError, RunDirError
from gankit.models import MLPDiscriminator, MLPGenerator, build_models, registry
from gankit.models.registry import resolve
from gankit.train import Trainer, speed

MODULE = "gankit_test_own_arch"  # a name no other test imports
SOURCE = """
from torch import nn

from gankit.models import Generator, register


class SmallG(Generator):
    def __init__(self, z_dim, out_shape):
        super().__init__(z_dim=z_dim, out_shape=out_shape, value_range="none", prior="normal")
        self.net = nn.Sequential(nn.Linear(z_dim, 16), nn.ReLU(), nn.Linear(16, out_shape[0]))

    def forward(self, z):
        return self.net(z)


class SmallD(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


@register("small-pair")
def small_pair(cfg, *, sample_shape, kind, pixel_mean):
    return SmallG(cfg.z_dim, sample_shape), SmallD(sample_shape[0])
"""
CONFIG = f"""
data: {{name: ring8, n_samples: 256}}
model: {{arch: "{MODULE}:small-pair", z_dim: 3}}
optim: {{name: adam, lr: 0.001}}
train: {{steps: 4, batch_size: 32, log_every: 2, sample_every: 2, checkpoint_every: 2}}
"""


@pytest.fixture
def own_arch(tmp_path, monkeypatch):
    """The folder holding the user's module, importable in this process; what it registers is gone afterwards."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setattr(registry.ARCHITECTURES, "_entries", registry.ARCHITECTURES.entries())
    yield folder
    sys.modules.pop(MODULE, None)


def _gankit(*args: str, pythonpath: str) -> subprocess.CompletedProcess:
    """``python -m gankit ARGS`` in a fresh process that can import the user's module."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([pythonpath, os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "gankit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_registered_architecture_trains_from_yaml_and_samples_from_the_cli(tmp_path, own_arch):
    config = tmp_path / "mine.yaml"
    config.write_text(CONFIG)
    assert main(["train", str(config), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 0
    r = _gankit(
        "sample",
        str(tmp_path / "run"),
        "--n",
        "64",
        "--out",
        str(tmp_path / "s.png"),
        pythonpath=str(own_arch),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "s.png").read_bytes().startswith(b"\x89PNG")


def test_module_colon_name_is_a_registered_name_or_a_builder_function(own_arch):
    mine = __import__(MODULE)
    assert resolve(f"{MODULE}:small-pair") is mine.small_pair
    assert resolve(f"{MODULE}:small_pair") is mine.small_pair
    assert resolve("small-pair") is mine.small_pair  # registered by the import
    G, D = build_models(
        ModelConfig(arch=f"{MODULE}:small_pair", z_dim=2), sample_shape=(2,), kind="points"
    )
    assert G(torch.zeros(5, 2)).shape == (5, 2) and D(torch.zeros(5, 2)).shape == (5,)


@pytest.mark.parametrize(
    "arch, message",
    [
        ("resnet9", "model.arch 'resnet9' is unknown; choices: paper-mlp, mlp, dcgan, resnet"),
        ("gankit_no_such_module:pair", "(no module named 'gankit_no_such_module')"),
        (
            "gankit.models:no_such_builder",
            "neither registers an architecture 'no_such_builder' nor has one of that name",
        ),
    ],
)
def test_unknown_architectures_are_one_line_errors_listing_the_registered_names(arch, message):
    # the registry, not the config, knows the names
    cfg = load_config("quickstart", [f"model.arch={arch}"])
    with pytest.raises(ConfigError) as info:
        build_models(cfg.model, sample_shape=(1, 28, 28), kind="image")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_a_run_of_modules_passed_to_the_trainer_is_not_rebuilt_from_its_config(tmp_path, capsys):
    """Its config names an architecture the run did not use: sampling it and resuming it without the modules are
    one-line errors, not a mismatched model."""
    data = Dataset("pts", "points", {"train": Split(torch.randn(64, 2))})

    def pair() -> dict:
        return {
            "G": MLPGenerator(out_shape=(2,), z_dim=2, hidden=8, layers=1),
            "D": MLPDiscriminator(in_shape=(2,), hidden=8, layers=1),
        }

    Trainer(
        quick_config(train={"steps": 2, "batch_size": 16}), tmp_path / "run", dataset=data, **pair()
    ).fit()
    assert main(["sample", str(tmp_path / "run"), "--n", "8"]) == 1
    err = capsys.readouterr().err
    assert "passed to the Trainer" in err and "module:builder" in err and err.count("\n") == 1
    with pytest.raises(
        RunDirError, match=r"resume it with Trainer.resume\(run_dir, G=..., D=...\)"
    ):
        Trainer.resume(tmp_path / "run", ["train.steps=3"], dataset=data)
    assert Trainer.resume(tmp_path / "run", ["train.steps=3"], dataset=data, **pair()).step == 2


def test_channels_last_follows_from_convolutions_not_from_the_name(tmp_path):
    class ConvD(nn.Module):  # a user's convolutional D, which no architecture name describes
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 4, stride=2)
            self.out = nn.Linear(4 * 13 * 13, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.conv(x).flatten(1)).squeeze(1)

    assert speed.convolutional(nn.Linear(2, 2), ConvD()) and not speed.convolutional(
        nn.Linear(2, 2)
    )
    x = torch.randint(
        0, 256, (32, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    trainer = Trainer(
        quick_config(model={"arch": "mlp"}, train={"steps": 1, "batch_size": 16, "speed": "eager"}),
        tmp_path / "run",
        dataset=Dataset("im", "image", {"train": Split(x)}),
        G=MLPGenerator(out_shape=(1, 28, 28), z_dim=4, hidden=8, layers=1),
        D=ConvD(),
    )
    assert trainer.speed.channels_last
