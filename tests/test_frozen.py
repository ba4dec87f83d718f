"""Frozen parameters (``requires_grad=False`` when the pair is built), here a feature network inside D: not trained,
not toggled by G steps, not given to the optimiser, not spectrally normalised, not stored in checkpoints (recorded by
name and SHA-256, checked on resume and when ``gankit sample`` rebuilds G) and not counted as trained by the memory
check."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from gankit_testkit import quick_config, same_checkpoints, saved_checkpoint
from torch import nn
from torch.nn.utils import parametrize

from gankit.data import Dataset, Split
from gankit.errors import CheckpointError, ConfigError
from gankit.models import Generator, MLPGenerator, parameter_counts, registry
from gankit.regularizers import clip_weights_
from gankit.train import Trainer
from gankit.train.memory_check import check_model_memory
from gankit.train.restore import load_generator_and_meta


def _seeded(module: nn.Module, seed: int) -> nn.Module:
    """``module`` with every parameter drawn from a generator seeded ``seed`` (any device, the meta one included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return module


class FeatureD(nn.Module):
    """A D on 2-D points: a frozen feature network (weights from ``feature_seed``) under a trainable head."""

    def __init__(self, feature_seed: int = 0) -> None:
        super().__init__()
        self.features = _seeded(
            nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 8)), feature_seed
        )
        self.features.requires_grad_(False)
        self.head = _seeded(nn.Sequential(nn.Linear(8, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)), 7)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class FeatureG(Generator):
    """A G on 2-D points whose first layer is frozen (weights from ``feature_seed``)."""

    def __init__(self, feature_seed: int = 0) -> None:
        super().__init__(z_dim=2, out_shape=(2,), value_range="none", prior="normal")
        self.lift = _seeded(nn.Linear(2, 8), feature_seed).requires_grad_(False)
        self.out = _seeded(nn.Linear(8, 2), 8)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.lift(z)))


DATA = Dataset(
    "pts",
    "points",
    {"train": Split(torch.randn(64, 2, generator=torch.Generator().manual_seed(0)))},
)
FROZEN = ["features.0.bias", "features.0.weight", "features.2.bias", "features.2.weight"]


def _pair(feature_seed: int = 0) -> dict:
    return {
        "G": _seeded(MLPGenerator(out_shape=(2,), z_dim=2, hidden=8, layers=1), 3),
        "D": FeatureD(feature_seed),
    }


def _cfg(steps: int = 4, train: dict | None = None, **sections):
    base = {"steps": steps, "batch_size": 16, "checkpoint_every": 4, "sample_every": 100}
    return quick_config(train={**base, **(train or {})}, **sections)


def _sha256(state: dict[str, torch.Tensor], names: list[str]) -> str:
    h = hashlib.sha256()
    for name in names:
        t = state[name].contiguous()
        h.update(f"{name}:{t.dtype}:{list(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def test_frozen_weights_stay_as_built_and_outside_the_optimiser(tmp_path):
    pair = _pair()
    built = {k: v.clone() for k, v in pair["D"].features.state_dict().items()}
    trainer = Trainer(_cfg(), tmp_path / "run", dataset=DATA, **pair)
    trainer.fit()
    D = trainer.D
    assert all(torch.equal(D.features.state_dict()[k], v) for k, v in built.items())
    assert not any(p.requires_grad for p in D.features.parameters())
    assert all(p.requires_grad for p in D.head.parameters())
    optimised = [p for group in trainer.players.opt_d.param_groups for p in group["params"]]
    assert [id(p) for p in optimised] == [id(p) for p in D.head.parameters()]


def test_a_checkpoint_records_frozen_weights_by_name_and_sha256_instead_of_storing_them(tmp_path):
    pair = _pair()
    state = {k: v.clone() for k, v in pair["D"].state_dict().items()}
    Trainer(_cfg(), tmp_path / "run", dataset=DATA, **pair).fit()
    tensors = saved_checkpoint(tmp_path / "run")
    assert not any(k.startswith("D.features.") for k in tensors) and "D.head.0.weight" in tensors
    meta = json.loads((tmp_path / "run" / "checkpoints" / "step-000000004.json").read_text())
    assert meta["frozen"] == {"D": {"names": FROZEN, "sha256": _sha256(state, FROZEN)}}


def test_a_resume_continues_bit_exactly_without_the_frozen_tensors(tmp_path):
    Trainer(_cfg(8), tmp_path / "once", dataset=DATA, **_pair()).fit()
    Trainer(_cfg(4), tmp_path / "twice", dataset=DATA, **_pair()).fit()
    resumed = Trainer.resume(tmp_path / "twice", ["train.steps=8"], dataset=DATA, **_pair())
    assert resumed.step == 4
    resumed.fit()
    tensors = same_checkpoints(tmp_path / "once", tmp_path / "twice")
    assert not any(k.startswith("D.features.") for k in tensors)


def test_a_resume_whose_frozen_weights_differ_is_a_one_line_error(tmp_path):
    Trainer(_cfg(), tmp_path / "run", dataset=DATA, **_pair()).fit()
    with pytest.raises(CheckpointError, match="D's frozen weights differ from the run's") as info:
        Trainer.resume(tmp_path / "run", ["train.steps=8"], dataset=DATA, **_pair(feature_seed=1))
    assert "\n" not in str(info.value)


def test_spectral_norm_leaves_frozen_layers_alone(tmp_path):
    trainer = Trainer(
        _cfg(1, model={"spectral_norm": True}), tmp_path / "run", dataset=DATA, **_pair()
    )
    layers = lambda m: [x for x in m.modules() if isinstance(x, nn.Linear)]  # noqa: E731
    assert not any(parametrize.is_parametrized(x) for x in layers(trainer.D.features))
    assert all(parametrize.is_parametrized(x, "weight") for x in layers(trainer.D.head))


def test_weight_clipping_leaves_frozen_weights_alone():
    D = FeatureD()
    built = {k: v.clone() for k, v in D.features.state_dict().items()}
    clip_weights_(D, 0.01)
    assert all(torch.equal(D.features.state_dict()[k], v) for k, v in built.items())
    assert all(p.abs().max() <= 0.01 for p in D.head.parameters())


@pytest.fixture
def frozen_arch(monkeypatch):
    """``frozen-pair``: a registered pair whose G and D each hold frozen weights (those of ``SEED["features"]``)."""
    monkeypatch.setattr(registry.ARCHITECTURES, "_entries", registry.ARCHITECTURES.entries())
    seed = {"features": 0}

    @registry.register("frozen-pair")
    def frozen_pair(cfg, *, sample_shape, kind, pixel_mean):
        return FeatureG(seed["features"]), FeatureD(seed["features"])

    return seed


def test_the_memory_check_counts_frozen_parameters_apart(frozen_arch, monkeypatch):
    cfg = _cfg(model={"arch": "frozen-pair"})
    counts = parameter_counts(cfg.model, sample_shape=(2,), kind="points")
    assert counts == (
        18,
        161,
        24,
        184,
    )  # G: out 8·2+2 (lift 2·8+8); D: head 8·16+16+16+1 (features 2·16+16+16·8+8)
    monkeypatch.setattr("gankit.train.memory_check.available_memory", lambda device: 1)
    with pytest.raises(
        ConfigError, match=r"would have 179 trainable parameters \(and 208 frozen\)"
    ):
        check_model_memory(cfg, DATA, 0, torch.device("cpu"))


def test_sampling_checks_the_rebuilt_generators_frozen_weights(frozen_arch, tmp_path):
    cfg = _cfg(model={"arch": "frozen-pair"}, train={"ema_half_life_kimg": 0.01})
    Trainer(cfg, tmp_path / "run", dataset=DATA).fit()
    tensors = saved_checkpoint(tmp_path / "run")
    assert (
        not any(".lift." in k or ".features." in k for k in tensors)
        and "G_ema.out.weight" in tensors
    )
    G, meta = load_generator_and_meta(tmp_path / "run")
    assert meta["ema"] and torch.equal(G.lift.weight, FeatureG().lift.weight)
    frozen_arch["features"] = 1
    with pytest.raises(CheckpointError, match="G's frozen weights differ from the run's") as info:
        load_generator_and_meta(tmp_path / "run")
    assert "\n" not in str(info.value)
