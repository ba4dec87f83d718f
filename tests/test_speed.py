"""Fast paths compute what eager computes: torch.compile, CUDA graphs, bf16 autocast, channels-last, foreach
optimisers. The CUDA tests are marked ``gpu`` (run them with ``-m gpu`` on a machine with a GPU)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
import torch
from gankit_testkit import quick_config, same_checkpoints

from gankit.config import from_dict
from gankit.data import Dataset, Split
from gankit.errors import ConfigError
from gankit.train import Trainer
from gankit.train import speed as speed_module
from gankit.train.cudagraph import CapturedStep
from gankit.train.logger import read_metrics
from gankit.train.optim import MomentumSGD
from gankit.train.optim_state import optimizer_from_flat, optimizer_to_flat


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {
        **{f"G.{k}": v for k, v in trainer.G.state_dict().items()},
        **{f"D.{k}": v for k, v in trainer.D.state_dict().items()},
    }


def _assert_close(a: dict, b: dict, rtol: float, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), rtol=rtol, atol=atol), key


def _images28(n: int = 64) -> Dataset:
    x = torch.randint(
        0, 256, (n, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    return Dataset("tiny28", "image", {"train": Split(x, torch.arange(n) % 10)})


def test_auto_is_eager_on_cpu_and_says_why(tmp_path, tiny_images, caplog):
    with caplog.at_level(logging.INFO, logger="gankit.train.speed"):
        trainer = Trainer(quick_config(train={"steps": 1}), tmp_path / "run", dataset=tiny_images)
    assert trainer.speed.mode == "eager" and trainer.players.D is trainer.D
    assert "train.speed=auto on cpu: eager" in caplog.text


def test_compile_matches_eager_with_dropout_and_r1(tmp_path, tiny_images):
    """Paper G + maxout D with dropout (same random draws under compile) and a lazy R1 penalty (eager D, double
    backward): 4 steps compiled equal 4 eager steps to float32 rounding. With the paper's SGD: Adam divides by
    √v, which turns rounding in near-zero gradients into lr-sized steps (seen: 6e-4 on G's weights)."""
    runs = {}
    for mode in ("eager", "compile"):
        cfg = quick_config(train={"steps": 4, "speed": mode}, objective={"r1": 1.0, "reg_every": 2})
        trainer = Trainer(cfg, tmp_path / mode, dataset=tiny_images)
        trainer.fit()
        runs[mode] = (trainer, _params(trainer))
    compiled = runs["compile"][0]
    assert compiled.players.D is not compiled.D and compiled.players.runtime.penalty_D is compiled.D
    _assert_close(runs["eager"][1], runs["compile"][1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ["compile", "eager+bf16"])
def test_rpgan_with_r1_and_r2_every_step_under_each_speed_mode(tmp_path, tiny_images, mode):
    """The R3GAN objective: relativistic pairing loss plus γ/2·(R1 + R2), non-lazy, on the paper's MLPs with SGD.
    Compiled: equal to eager to float32 rounding (the penalties use the eager D). bf16: finite, penalty every row,
    and the loss within 5 % of fp32's after 3 steps."""
    runs = {}
    for name in ("eager", mode):
        speed, _, precision = name.partition("+")
        cfg = quick_config(
            objective={"loss": "rpgan", "r1": 0.5, "r2": 0.5},
            train={"steps": 3, "log_every": 1, "speed": speed, "precision": precision or "fp32"},
        )
        trainer = Trainer(cfg, tmp_path / name.replace("+", "-"), dataset=tiny_images)
        runs[name] = (
            trainer.fit(),
            _params(trainer),
            read_metrics(tmp_path / name.replace("+", "-")),
        )
    rows = runs[mode][2]
    assert len(rows) == 3 and all(r["penalty"] > 0 for r in rows)
    if mode == "compile":
        _assert_close(runs["eager"][1], runs[mode][1], rtol=1e-4, atol=1e-6)
    else:
        assert runs[mode][0]["d_loss"] == pytest.approx(runs["eager"][0]["d_loss"], rel=5e-2)


def test_channels_last_matches_and_checkpoints(tmp_path):
    """Two steps channels-last and contiguous give the same weights, under momentum SGD: its update is linear in the
    gradient, so the layouts' different summation orders stay tiny (max 6.0e-8 with 1 thread, 1.8e-8 with 2, on a
    2-core x86-64 CPU; the bound is atol 1e-6 + rtol 1e-4). Adam would normalise a near-zero gradient element's
    rounding into a step of up to lr (2.3e-6 measured with 1 thread), which is no sign of a layout bug."""
    runs = {}
    for flag in ("off", "on"):
        cfg = quick_config(
            model={"arch": "dcgan", "width": 8, "d_norm": "batch"},
            optim={"name": "sgd", "lr": 0.01, "momentum": 0.5},
            train={"steps": 2, "batch_size": 16, "channels_last": flag},
        )
        trainer = Trainer(cfg, tmp_path / flag, dataset=_images28())
        trainer.fit()  # writes a checkpoint at the end
        runs[flag] = _params(trainer)
        assert trainer.speed.channels_last is (flag == "on")
    _assert_close(runs["off"], runs["on"], rtol=1e-4, atol=1e-6)
    resumed = Trainer.resume(tmp_path / "on", ["train.steps=3"], dataset=_images28())
    assert resumed.step == 2


@pytest.mark.parametrize(
    "device",
    [
        "cpu",
        pytest.param(
            "cuda",
            marks=[
                pytest.mark.gpu,
                pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
            ],
        ),
    ],
)
@pytest.mark.parametrize(
    "optim", [{"name": "adam", "lr": 1e-3}, {"name": "sgd", "lr": 0.01, "momentum": 0.5}]
)
def test_channels_last_resume_is_bit_identical(tmp_path, monkeypatch, optim, device):
    """Optimiser state comes back from a checkpoint contiguous; fused kernels (Adam on CPU and CUDA, SGD on CPU)
    read it in the parameter's memory layout, so a channels-last run must get it back channels-last: 4 eager steps
    in one go == 2, resume, 2 more (on CUDA with cuDNN's deterministic algorithms)."""
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)

    def config(steps: int):
        return quick_config(
            model={"arch": "dcgan", "width": 8},
            optim=optim,
            train={
                "steps": steps,
                "batch_size": 16,
                "channels_last": "on",
                "checkpoint_every": 100,
                "device": device,
                "speed": "eager",
            },
        )

    Trainer(config(4), tmp_path / "one", dataset=_images28()).fit()
    Trainer(config(2), tmp_path / "two", dataset=_images28()).fit()
    resumed = Trainer.resume(tmp_path / "two", ["train.steps=4"], dataset=_images28())
    conv = next(p for p in resumed.D.parameters() if p.dim() == 4)
    state = resumed.players.opt_d.state[conv]
    assert all(v.stride() == conv.stride() for v in state.values() if v.shape == conv.shape)
    resumed.fit()
    same_checkpoints(tmp_path / "one", tmp_path / "two")


def test_channels_last_auto_for_conv_models_except_under_compile(tmp_path, tiny_images):
    for speed, expected in (("eager", True), ("compile", False)):
        cfg = quick_config(
            model={"arch": "dcgan", "width": 8},
            train={"steps": 1, "batch_size": 16, "speed": speed},
        )
        assert (
            Trainer(cfg, tmp_path / speed, dataset=_images28()).speed.channels_last is expected
        ), speed
    assert not Trainer(quick_config(), tmp_path / "mlp", dataset=tiny_images).speed.channels_last


@pytest.mark.parametrize("has_bf16", [True, False])
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch, caplog, has_bf16):
    monkeypatch.setattr(speed_module, "cpu_has_bf16", lambda: has_bf16)
    t = quick_config(train={"steps": 1, "precision": "bf16"}).train
    with caplog.at_level(logging.WARNING, logger="gankit.train.speed"):
        speed_module.plan(t, torch.device("cpu"), conv=False, cudagraph_blocker=None)
        speed_module.plan(
            dataclasses.replace(t, precision="fp32"),
            torch.device("cpu"),
            conv=False,
            cudagraph_blocker=None,
        )
    warned = [
        r.getMessage() for r in caplog.records if "without bf16 instructions" in r.getMessage()
    ]
    assert len(warned) == (0 if has_bf16 else 1)
    assert all("set train.precision=fp32" in w for w in warned)


def test_cpu_bf16_probe_reads_torch_and_claims_nothing_it_cannot_tell(monkeypatch):
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert speed_module.cpu_has_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert speed_module.cpu_has_bf16() is True
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name)
    assert speed_module.cpu_has_bf16() is True


def test_bf16_trains_close_to_fp32(tmp_path, tiny_images):
    rows = {}
    for precision in ("fp32", "bf16"):
        cfg = quick_config(
            model={"arch": "mlp", "hidden": 64},
            optim={"name": "adam", "lr": 1e-3},
            train={"steps": 3, "log_every": 3, "precision": precision},
        )
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
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_compile_matches_eager(tmp_path, precision):
    """On CUDA: DCGAN-28 trained 3 steps compiled (fused Adam) vs eager, within rounding."""
    runs = {}
    for mode in ("eager", "compile"):
        cfg = quick_config(
            model={"arch": "dcgan", "width": 8, "d_norm": "batch"},
            optim={"name": "adam", "lr": 1e-4},
            train={
                "steps": 3,
                "batch_size": 16,
                "device": "cuda",
                "speed": mode,
                "tf32": False,
                "precision": precision,
            },
        )
        trainer = Trainer(cfg, tmp_path / mode, dataset=_images28())
        trainer.fit()
        runs[mode] = {k: v.cpu() for k, v in _params(trainer).items()}
    tol = 1e-3 if precision == "fp32" else 5e-2
    _assert_close(runs["eager"], runs["compile"], rtol=tol, atol=tol * 1e-2)


def test_momentum_sgd_with_device_tensor_hyperparameters_matches_floats():
    """Under CUDA graphs lr and momentum are 0-d tensors written in place; the update is the same rule."""
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(3, 4))]
    b = [torch.nn.Parameter(a[0].detach().clone())]
    opt_a = MomentumSGD(a, lr=0.1, momentum=0.5)
    opt_b = MomentumSGD(b, lr=torch.tensor(0.1), momentum=torch.tensor(0.5))
    for step in range(4):
        lr, mu = 0.1 / (1 + step), 0.5 + 0.1 * step
        opt_a.param_groups[0].update(lr=lr, momentum=mu)
        opt_b.param_groups[0]["lr"].fill_(lr)
        opt_b.param_groups[0]["momentum"].fill_(mu)
        g = torch.randn(3, 4)
        a[0].grad, b[0].grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    assert torch.allclose(a[0], b[0], rtol=1e-6, atol=1e-7)
    assert not torch.equal(a[0], torch.zeros(3, 4))


def test_fused_cpu_momentum_sgd_matches_the_foreach_rule(monkeypatch):
    """On CPU with numeric hyper-parameters MomentumSGD runs torch's fused SGD kernel (buf = v, dampening = 1 + lr,
    lr' = −1); over a changing lr (down to 1e-6) and momentum it gives the foreach rule's parameters and velocities
    to float32 rounding."""
    calls = []
    fused_sgd = torch._fused_sgd_
    monkeypatch.setattr(
        torch, "_fused_sgd_", lambda *a, **kw: calls.append(1) or fused_sgd(*a, **kw)
    )
    torch.manual_seed(0)
    fused = [torch.nn.Parameter(torch.randn(30, 7)), torch.nn.Parameter(torch.randn(11))]
    ref = [torch.nn.Parameter(p.detach().clone()) for p in fused]
    opt_fused = MomentumSGD(fused, lr=0.1, momentum=0.5)
    # tensors: the foreach path
    opt_ref = MomentumSGD(ref, lr=torch.tensor(0.1), momentum=torch.tensor(0.5))
    for lr, mu in ((0.1, 0.5), (0.05, 0.55), (1e-6, 0.6), (0.3, 0.7), (0.0999996, 0.7)):
        opt_fused.param_groups[0].update(lr=lr, momentum=mu)
        opt_ref.param_groups[0]["lr"].fill_(lr)
        opt_ref.param_groups[0]["momentum"].fill_(mu)
        for a, b in zip(fused, ref):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        opt_fused.step()
        opt_ref.step()
    assert len(calls) == 5
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(
            opt_fused.state[a]["velocity"], opt_ref.state[b]["velocity"], rtol=1e-5, atol=1e-7
        )
        assert not torch.equal(opt_fused.state[a]["velocity"], torch.zeros_like(a))


def test_momentum_sgd_with_a_gradient_in_another_memory_layout():
    """The fused kernel walks parameter, gradient and velocity in one element order; a channels-last weight with a
    contiguous gradient (assigned by hand: autograd matches layouts) must still get the rule's update."""
    torch.manual_seed(0)
    weight = torch.nn.Parameter(
        torch.randn(8, 4, 3, 3).contiguous(memory_format=torch.channels_last)
    )
    plain = torch.nn.Parameter(weight.detach().clone().contiguous())
    opt_a, opt_b = (
        MomentumSGD([weight], lr=0.1, momentum=0.5),
        MomentumSGD([plain], lr=0.1, momentum=0.5),
    )
    for _ in range(3):
        grad = torch.randn(8, 4, 3, 3)
        weight.grad, plain.grad = grad.clone(), grad.clone()
        opt_a.step()
        opt_b.step()
    torch.testing.assert_close(weight, plain, rtol=0, atol=0)


def test_optimizer_checkpoint_keeps_this_process_implementation_flags():
    """A checkpoint written by a capturable (CUDA-graph) Adam with a tensor lr loads into a plain one: hyper-parameters
    come back as numbers, and fused/foreach/capturable stay what this process chose."""
    p = [torch.nn.Parameter(torch.randn(4))]
    # (steps only on CUDA)
    saved = torch.optim.Adam(p, lr=torch.tensor(0.01), foreach=False, capturable=True)
    tensors, meta = optimizer_to_flat("opt", saved)
    assert meta["param_groups"][0]["lr"] == pytest.approx(0.01) and isinstance(
        meta["param_groups"][0]["lr"], float
    )
    q = [torch.nn.Parameter(torch.randn(4))]
    plain = torch.optim.Adam(q, lr=0.5, foreach=True)
    optimizer_from_flat("opt", plain, tensors, meta)
    group = plain.param_groups[0]
    assert (
        group["capturable"] is False
        and group["foreach"] is True
        and group["lr"] == pytest.approx(0.01)
    )


def test_cudagraph_needs_cuda(tmp_path, tiny_images):
    with pytest.raises(ConfigError, match="train.speed=cudagraph: CUDA graphs need a CUDA device"):
        Trainer(quick_config(train={"speed": "cudagraph"}), tmp_path / "run", dataset=tiny_images)


def test_speed_rejects_unknown_mode():
    with pytest.raises(ConfigError, match="train.speed"):
        from_dict({"train": {"speed": "cuda-graph"}})


# ------------------------------------------------------------------------------------------------- CUDA (gpu mark)

needs_cuda = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _points(n: int = 256, dim: int = 2) -> Dataset:
    gen = torch.Generator().manual_seed(1)
    return Dataset(
        "blobs", "points", {"train": Split(torch.randn(n, dim, generator=gen), torch.arange(n) % 4)}
    )


CUDAGRAPH_CASES = {
    # the paper's MLP GAN (dropout from the default CUDA generator) with its SGD schedules moving every step
    "paper-mlp-sgd": (
        {"model": {"arch": "paper-mlp"}, "train": {"batch_size": 16, "k": 2}},
        lambda: _images28(256),
        1e-4,
    ),
    # AC-GAN with an R1 penalty every step, EMA, ns loss, Adam: labels, penalties and the EMA around the graph
    "acgan-r1-ema": (
        {
            "model": {"arch": "mlp", "hidden": 32, "conditional": "acgan"},
            "objective": {"loss": "gan", "r1": 0.1},
            "optim": {"name": "adam", "lr": 1e-3},
            "train": {"batch_size": 32, "ema_half_life_kimg": 0.5},
        },
        _points,
        1e-4,
    ),
    # the R3GAN objective: relativistic pairing (a real batch in the G step) with R1 and R2 every D step
    "rpgan-r1-r2": (
        {
            "model": {"arch": "mlp", "hidden": 32},
            "objective": {"loss": "rpgan", "r1": 0.5, "r2": 0.5},
            "optim": {"name": "adam", "lr": 1e-3, "beta1": 0.0, "beta2": 0.99},
            "train": {"batch_size": 32},
        },
        _points,
        1e-4,
    ),
    # DCGAN with batch norm, channels-last and DiffAugment: BN statistics and augmentation draws inside the graph
    "dcgan-augment": (
        {
            "model": {"arch": "dcgan", "width": 8, "d_norm": "batch"},
            "optim": {"name": "adam", "lr": 2e-4, "beta1": 0.5},
            "train": {"batch_size": 16, "augment": "translation,cutout"},
        },
        lambda: _images28(256),
        1e-3,
    ),
}


def _cuda_config(sections: dict, mode: str, steps: int, precision: str = "fp32"):
    cfg = {
        "model": {"arch": "paper-mlp"},
        "objective": {"d_weight": 0.5},
        "optim": {
            "name": "sgd",
            "lr": 0.1,
            "lr_decay": 1.000004,
            "momentum": 0.5,
            "momentum_final": 0.7,
            "momentum_start": 1,
            "momentum_saturate": 5,
        },
        "train": {
            "steps": steps,
            "log_every": 5,
            "sample_every": 10**6,
            "checkpoint_every": 10**6,
            "device": "cuda",
            "speed": mode,
            "tf32": False,
            "precision": precision,
        },
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return from_dict(cfg)


@pytest.mark.parametrize("case", sorted(CUDAGRAPH_CASES))
def test_cudagraph_matches_eager(tmp_path, case):
    """30 iterations replayed from one captured CUDA graph (after 3 eager warm-up steps; epoch boundaries run
    eagerly) end where 30 eager iterations end, within float32 rounding, and log the same losses."""
    sections, data, tol = CUDAGRAPH_CASES[case]
    runs = {}
    for mode in ("eager", "cudagraph"):
        trainer = Trainer(_cuda_config(sections, mode, steps=30), tmp_path / mode, dataset=data())
        runs[mode] = (trainer, trainer.fit())
    graphed = runs["cudagraph"][0]
    assert isinstance(graphed.stepper, CapturedStep) and graphed.stepper.replays >= 15
    _assert_close(_params(runs["eager"][0]), _params(graphed), rtol=tol, atol=tol * 1e-2)
    for key in ("d_loss", "g_loss"):
        assert runs["cudagraph"][1][key] == pytest.approx(
            runs["eager"][1][key], rel=tol * 10, abs=tol
        )


def test_cudagraph_bf16_close_to_eager_bf16(tmp_path):
    sections, data, _ = CUDAGRAPH_CASES["dcgan-augment"]
    params = {}
    for mode in ("eager", "cudagraph"):
        trainer = Trainer(
            _cuda_config(sections, mode, steps=12, precision="bf16"),
            tmp_path / mode,
            dataset=data(),
        )
        trainer.fit()
        params[mode] = _params(trainer)
    _assert_close(params["eager"], params["cudagraph"], rtol=5e-2, atol=5e-4)


def test_cudagraph_resume_is_exact(tmp_path):
    """Stopped at step 12 and resumed (the graph is captured again) to step 24 = an uninterrupted 24-step run."""
    sections, data, _ = CUDAGRAPH_CASES["acgan-r1-ema"]
    whole = Trainer(
        _cuda_config(sections, "cudagraph", steps=24), tmp_path / "whole", dataset=data()
    )
    whole.fit()
    first = Trainer(
        _cuda_config(sections, "cudagraph", steps=12), tmp_path / "split", dataset=data()
    )
    first.fit()
    resumed = Trainer.resume(tmp_path / "split", ["train.steps=24"], dataset=data())
    resumed.fit()
    assert resumed.stepper.replays > 0
    _assert_close(_params(whole), _params(resumed), rtol=1e-5, atol=1e-7)


def test_auto_on_cuda_picks_cudagraph_or_says_why_not(tmp_path, caplog):
    trainer = Trainer(
        _cuda_config({"train": {"batch_size": 16}}, "auto", steps=1),
        tmp_path / "a",
        dataset=_images28(),
    )
    assert trainer.speed.mode == "cudagraph"
    lazy = {"objective": {"d_weight": 0.5, "r1": 1.0, "reg_every": 4}, "train": {"batch_size": 16}}
    with caplog.at_level(logging.INFO, logger="gankit.train.speed"):
        trainer = Trainer(_cuda_config(lazy, "auto", steps=1), tmp_path / "b", dataset=_images28())
    assert trainer.speed.mode == "compile" and "objective.reg_every > 1" in caplog.text
    with pytest.raises(ConfigError, match="lazy regularisation"):
        Trainer(_cuda_config(lazy, "cudagraph", steps=1), tmp_path / "c", dataset=_images28())


for _test in (
    test_cudagraph_matches_eager,
    test_cudagraph_bf16_close_to_eager_bf16,
    test_cudagraph_resume_is_exact,
    test_auto_on_cuda_picks_cudagraph_or_says_why_not,
):
    for _mark in needs_cuda:
        _mark(_test)
