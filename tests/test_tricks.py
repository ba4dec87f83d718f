"""Training tricks as components (docs/design.md, 'How to add a training trick'): a trick of one's own, written in a
user module and named from YAML as MODULE:NAME, trains through `gankit train`, resumes bit for bit, has its own
config section and random stream, and is listed by `gankit config --keys`; a trick's own network trains with its
player's optimiser and is checkpointed."""

from __future__ import annotations

import pytest
import torch
import yaml
from gankit_testkit import quick_config, same_checkpoints, saved_checkpoint
from torch import nn

from gankit.cli import main
from gankit.config import TRICKS, load_config, to_yaml
from gankit.errors import ConfigError
from gankit.train import Trainer
from gankit.train.logger import read_metrics
from gankit.train.tricks import Trick

MODULE = "gankit_user_instance_noise"  # one name for every test: imported once, registered once
SPEC = f"{MODULE}:instance_noise"

# the recipe of docs/design.md, as a user writes it
SOURCE = '''
"""Instance noise (Sønderby et al. 2017): Gaussian noise of std sigma on every sample D sees, annealed."""
from dataclasses import dataclass

import torch

from gankit.config import TRICKS, setting
from gankit.train.tricks import Ramp, Trick


@dataclass(frozen=True)
class NoiseSettings:
    sigma: float = setting(0.1, lo=0.0, help="std of the noise added to what D sees")
    sigma_final: float | None = setting(
        None, lo=0.0, ramped=True, help="sigma at the end of train.ramp_kimg (null: constant)"
    )


class InstanceNoise(Trick):
    section, Settings, stream = "instance_noise", NoiseSettings, "instance_noise"

    def __init__(self, ctx):
        s = ctx.settings(self.section)
        self.sigma = torch.tensor(s.sigma, device=ctx.device)
        self.ramp = (s.sigma, s.sigma_final)
        self.generator = ctx.generator(self.stream)

    def ramps(self):
        return [] if self.ramp[1] is None else [Ramp("noise_sigma", *self.ramp, self.sigma)]

    def d_sees(self, a, b):
        return self.noisy(a), None if b is None else self.noisy(b)

    def noisy(self, x):
        noise = torch.randn(x.shape, generator=self.generator, device=x.device, dtype=x.dtype)
        return x + self.sigma * noise


TRICKS.register("instance_noise", InstanceNoise)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """The user's module on the import path."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def _config_file(path, steps: int, sigma: float = 0.5, tricks: str = SPEC):
    """A YAML config of ring8 (512 points) naming the trick, with its own section."""
    sets = ["data.n_samples=512", f"train.steps={steps}", "train.log_every=2"]
    raw = yaml.safe_load(to_yaml(load_config("ring8", sets + ["train.checkpoint_every=100"])))
    raw["train"].update(tricks=tricks, ramp_kimg=2)
    if tricks:
        raw["instance_noise"] = {"sigma": sigma, "sigma_final": 0.05}
    path.write_text(yaml.safe_dump(raw))
    return path


def _train(config, run) -> None:
    """`gankit train CONFIG --run-dir RUN --quiet`, which must succeed."""
    assert main(["train", str(config), "--run-dir", str(run), "--quiet"]) == 0


def test_a_user_trick_trains_from_yaml_and_resumes_bit_for_bit(tmp_path, user_module):
    """`gankit train CONFIG.yaml` with `train.tricks: MODULE:instance_noise` and an `instance_noise:` section: the
    noise level ramps in the log, the trick's stream is checkpointed, and 4 steps + `--resume` to 8 give the
    checkpoint of 8 steps in one go. A run without the trick ends elsewhere: the trick acts."""
    straight, halves, plain = tmp_path / "straight", tmp_path / "halves", tmp_path / "plain"
    _train(_config_file(tmp_path / "a.yaml", 8), straight)
    _train(_config_file(tmp_path / "b.yaml", 4), halves)
    resume = ["train", "--resume", str(halves), "--set", "train.steps=8", "--quiet"]
    assert main(resume) == 0
    tensors = same_checkpoints(straight, halves)
    assert "rng.instance_noise" in tensors
    sigmas = [row["noise_sigma"] for row in read_metrics(straight)]
    assert all(0.5 > a > b > 0.05 for a, b in zip(sigmas, sigmas[1:])) and len(sigmas) == 4
    saved = yaml.safe_load((straight / "config.yaml").read_text())
    assert saved["instance_noise"] == {"sigma": 0.5, "sigma_final": 0.05}
    _train(_config_file(tmp_path / "c.yaml", 8, tricks=""), plain)
    other = saved_checkpoint(plain)
    assert "rng.instance_noise" not in other
    assert not torch.equal(other["D.net.0.weight"], tensors["D.net.0.weight"])


def test_the_trick_s_settings_are_keys_like_any_other(tmp_path, user_module, capsys):
    """`gankit config --keys` with the trick named lists its section; a bad value is a one-line error naming the
    key; a resume may not change it."""
    assert main(["config", "--keys", "--set", f"train.tricks={SPEC}"]) == 0
    out = capsys.readouterr().out
    assert "`instance_noise.sigma`" in out and "`instance_noise.sigma_final`" in out
    with pytest.raises(ConfigError, match=r"^instance_noise.sigma: -1.0 is out of range"):
        load_config("ring8", [f"train.tricks={SPEC}", "instance_noise.sigma=-1"])
    run = tmp_path / "run"
    _train(_config_file(tmp_path / "a.yaml", 2), run)
    with pytest.raises(ConfigError, match="allows overriding only"):
        Trainer.resume(run, ["instance_noise.sigma=0.1"])


def test_naming_one_of_gankit_s_own_tricks_is_a_one_line_error(tmp_path, tiny_images):
    with pytest.raises(ConfigError, match="'penalty' is one of gankit's own tricks"):
        Trainer(
            quick_config(train={"steps": 1, "tricks": "penalty"}),
            tmp_path / "run",
            dataset=tiny_images,
        )


class _Gain(Trick):
    """What D sees × a learned gain; a frozen offset beside it (never trained, not checkpointed)."""

    def __init__(self, ctx) -> None:
        self.net = nn.Module()
        self.net.gain = nn.Parameter(torch.ones(()))
        self.net.offset = nn.Parameter(torch.zeros(()), requires_grad=False)

    def modules(self) -> dict[str, nn.Module]:
        return {"D": self.net}

    def d_sees(self, a, b):
        scaled = self.net.gain * a + self.net.offset
        return scaled, None if b is None else self.net.gain * b + self.net.offset


TRICKS.register("test_tricks_gain", _Gain)


def test_a_trick_s_own_network_trains_with_its_player_and_resumes(tmp_path, tiny_images):
    """The gain joins D's optimiser (the frozen offset does not), moves, is checkpointed as `trick.NAME.D.gain`
    without the offset, and 3 + 3 steps equal 6."""
    cfg = quick_config(train={"steps": 6, "tricks": "test_tricks_gain", "checkpoint_every": 100})
    trainer = Trainer(cfg, tmp_path / "one", dataset=tiny_images)
    net = trainer.tricks["test_tricks_gain"].net
    optimised = {id(p) for group in trainer.players.opt_d.param_groups for p in group["params"]}
    assert id(net.gain) in optimised and id(net.offset) not in optimised
    trainer.fit()
    assert net.gain.item() != 1.0 and net.offset.item() == 0.0
    tensors = saved_checkpoint(tmp_path / "one")
    assert "trick.test_tricks_gain.D.gain" in tensors
    assert not any(k.endswith("offset") for k in tensors)
    half = quick_config(train={"steps": 3, "tricks": "test_tricks_gain", "checkpoint_every": 100})
    Trainer(half, tmp_path / "two", dataset=tiny_images).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=6"], dataset=tiny_images).fit()
    same_checkpoints(tmp_path / "one", tmp_path / "two")
