"""Fast paths compute what eager computes: torch.compile, bf16 autocast, channels-last, foreach optimisers."""

from __future__ import annotations

import logging

import pytest
import torch

from gankit.data import Dataset, Split
from gankit.train import Trainer
from gankit.train.optim import MomentumSGD
from tests.conftest import quick_config


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {**{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
            **{f"D.{k}": v for k, v in trainer.D.state_dict().items()}}


def _assert_close(a: dict, b: dict, rtol: float, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), rtol=rtol, atol=atol), key


def _images28(n: int = 64) -> Dataset:
    x = torch.randint(0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return Dataset("tiny28", "image", {"train": Split(x, torch.arange(n) % 10)})


def test_auto_is_eager_on_cpu_and_says_why(tmp_path, tiny_images, caplog):
    with caplog.at_level(logging.INFO, logger="gankit.train.speed"):
        trainer = Trainer(quick_config(train={"steps": 1}), tmp_path / "run", dataset=tiny_images)
    assert trainer.speed.mode == "eager" and trainer.players.D is trainer.D
    assert "train.speed=auto on cpu: eager" in caplog.text


def test_compile_matches_eager_with_dropout_and_r1(tmp_path, tiny_images):
    """Paper G + maxout D with dropout (same random draws under compile) and a lazy R1 penalty (eager D, double
    backward): 4 steps compiled equal 4 eager steps to float32 rounding."""
    runs = {}
    for mode in ("eager", "compile"):
        cfg = quick_config(train={"steps": 4, "speed": mode}, objective={"r1": 1.0, "reg_every": 2},
                           optim={"name": "adam", "lr": 1e-3})
        trainer = Trainer(cfg, tmp_path / mode, dataset=tiny_images)
        trainer.fit()
        runs[mode] = (trainer, _params(trainer))
    compiled = runs["compile"][0]
    assert compiled.players.D is not compiled.D and compiled.players.penalty_D is compiled.D
    _assert_close(runs["eager"][1], runs["compile"][1], rtol=1e-4, atol=1e-6)


def test_channels_last_matches_and_checkpoints(tmp_path):
    runs = {}
    for flag in ("off", "on"):
        cfg = quick_config(model={"arch": "dcgan", "width": 8, "d_norm": "batch"}, optim={"name": "adam", "lr": 1e-3},
                           train={"steps": 2, "batch_size": 16, "channels_last": flag})
        trainer = Trainer(cfg, tmp_path / flag, dataset=_images28())
        trainer.fit()  # writes a checkpoint at the end
        runs[flag] = _params(trainer)
        assert trainer.speed.channels_last is (flag == "on")
    _assert_close(runs["off"], runs["on"], rtol=1e-4, atol=1e-6)
    resumed = Trainer.resume(tmp_path / "on", ["train.steps=3"], dataset=_images28())
    assert resumed.step == 2


def test_bf16_trains_close_to_fp32(tmp_path, tiny_images):
    rows = {}
    for precision in ("fp32", "bf16"):
        cfg = quick_config(model={"arch": "mlp", "hidden": 64}, optim={"name": "adam", "lr": 1e-3},
                           train={"steps": 3, "log_every": 3, "precision": precision})
        rows[precision] = Trainer(cfg, tmp_path / precision, dataset=tiny_images).fit()
    assert rows["bf16"]["d_loss"] == pytest.approx(rows["fp32"]["d_loss"], rel=2e-2)
    assert rows["bf16"]["g_loss"] == pytest.approx(rows["fp32"]["g_loss"], rel=2e-2)
    assert rows["bf16"]["d_loss"] != rows["fp32"]["d_loss"]  # autocast really ran in bf16


def test_foreach_momentum_sgd_is_the_pylearn2_rule():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(3, 4)), torch.nn.Parameter(torch.randn(5))]
    opt = MomentumSGD(params, lr=0.1, momentum=0.5)
    theta = [p.detach().clone() for p in params]
    v = [torch.zeros_like(p) for p in params]
    for step in range(3):
        grads = [torch.randn_like(p) for p in params]
        for p, g in zip(params, grads):
            p.grad = g
        opt.step()
        for i, g in enumerate(grads):
            v[i] = 0.5 * v[i] - 0.1 * g
            theta[i] = theta[i] + v[i]
    for p, t in zip(params, theta):
        assert torch.allclose(p, t, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run through the device tool)")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_compile_matches_eager(tmp_path, precision):
    """On CUDA: DCGAN-28 trained 3 steps compiled (channels-last, fused Adam) vs eager, within rounding."""
    runs = {}
    for mode in ("eager", "compile"):
        cfg = quick_config(model={"arch": "dcgan", "width": 8, "d_norm": "batch"}, optim={"name": "adam", "lr": 1e-4},
                           train={"steps": 3, "batch_size": 16, "device": "cuda", "speed": mode, "tf32": False,
                                  "precision": precision})
        trainer = Trainer(cfg, tmp_path / mode, dataset=_images28())
        trainer.fit()
        runs[mode] = {k: v.cpu() for k, v in _params(trainer).items()}
    tol = 1e-3 if precision == "fp32" else 5e-2
    _assert_close(runs["eager"], runs["compile"], rtol=tol, atol=tol * 1e-2)
