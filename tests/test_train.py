"""Algorithm 1 trainer: learning on toy data, bit-exact resume, run folder contents, stop conditions."""

from __future__ import annotations

import json
import statistics

import pytest
import torch
from gankit_testkit import quick_config, same_checkpoints, saved_checkpoint

from gankit.config import load_config
from gankit.data import Dataset, Split
from gankit.data.toy import GRID25_STD, RING8_STD, grid25_modes, ring8_modes
from gankit.metrics.modes import mode_coverage
from gankit.models import MLPDiscriminator, MLPGenerator
from gankit.train import Trainer
from gankit.train.logger import read_metrics

# |median − 1.5| and |median − 0.5| bounds
GAUSS1D_MEAN_TOLERANCE, GAUSS1D_STD_TOLERANCE = (0.2, 0.25)


def _gauss1d_moments(tmp_path, overrides: list[str]) -> tuple[float, float]:
    """Medians over steps 1000, 1100, …, 2000 of the mean and standard deviation of G's samples for 5,000 fixed z."""
    cfg = load_config(
        "gauss1d",
        ["train.steps=2000", "train.sample_every=100000", "train.snapshot_every=0", *overrides],
    )
    trainer = Trainer(cfg, tmp_path / "run")
    z = trainer.G.sample_z(5000, generator=torch.Generator().manual_seed(1))
    means, stds = [], []
    for step in range(1, 2001):
        trainer.train_step()
        if step >= 1000 and step % 100 == 0:
            x = trainer.generate(z, trainer.G_eval)
            means.append(x.mean().item())
            stds.append(x.std().item())
    return statistics.median(means), statistics.median(stds)


def _near_data(mean: float, std: float) -> bool:
    return abs(mean - 1.5) < GAUSS1D_MEAN_TOLERANCE and abs(std - 0.5) < GAUSS1D_STD_TOLERANCE


def test_gauss1d_learns_mean_and_std(tmp_path):
    """G's samples circle N(1.5, 0.5²) once trained: the median over steps 1000, 1100, …, 2000 of their mean and
    standard deviation (one step's moments swing with the game's oscillation, so a snapshot passes or fails by the
    seed's luck; the median does not). Evidence, `python benchmarks/toy_seeds.py --study gauss1d` over seeds 0–7
    (benchmarks/results/cpu-2core-toy-seeds-gauss1d-2026-11-30.log): the worst |median mean − 1.5| was 0.069 with
    Adam's fused kernel and 0.037 with foreach, the worst |median std − 0.5| 0.118 and 0.144; 1 and 2 threads gave
    the same medians. The bounds 0.2 and 0.25 leave 0.131 and 0.106. A trainer that does not learn (learning rate
    1e-7) is the control and must fail them."""
    mean, std = _gauss1d_moments(tmp_path / "learns", [])
    assert _near_data(mean, std), (mean, std)
    mean, std = _gauss1d_moments(tmp_path / "control", ["optim.lr=1e-7"])
    assert not _near_data(mean, std), (mean, std)


# preset → (steps, fewest modes, lowest share of high-quality samples) the preset must reach
COVERAGE = {"ring8": (1000, 7, 0.25), "grid25": (2000, 24, 0.15)}


def _coverage(
    preset: str, tmp_path, overrides: list[str], steps: int | None = None
) -> dict[str, float]:
    """PacGAN's metrics of the preset's generator for evaluation (the EMA copy) after ``steps`` steps (default: the
    criterion's): 2,500 fixed-noise samples, modes captured and the share within 3σ of a mode."""
    steps = steps or COVERAGE[preset][0]
    modes, std = {"ring8": (ring8_modes(), RING8_STD), "grid25": (grid25_modes(), GRID25_STD)}[
        preset
    ]
    cfg = load_config(
        preset,
        [f"train.steps={steps}", "train.sample_every=100000", "train.snapshot_every=0", *overrides],
    )
    trainer = Trainer(cfg, tmp_path / "run")
    for _ in range(steps):
        trainer.train_step()
    z = trainer.G.sample_z(2500, generator=torch.Generator().manual_seed(1))
    return mode_coverage(trainer.generate(z, trainer.G_eval), modes, std)


def _covers(preset: str, metrics: dict[str, float]) -> bool:
    _, fewest_modes, lowest_share = COVERAGE[preset]
    return metrics["modes"] >= fewest_modes and metrics["high_quality"] >= lowest_share


def test_ring8_preset_covers_every_mode(tmp_path):
    """The ring8 preset (what `gankit train ring8` and the playground start from) covers the ring after 1,000 steps:
    at least 7 of its 8 modes, and at least 0.25 of the samples within 3σ. Evidence,
    `python benchmarks/toy_seeds.py --study modes-ring8 [--adam foreach]` over seeds 0–7
    (benchmarks/results/cpu-2core-toy-seeds-modes-ring8-*.log): at 1,000 steps all 16 runs (Adam fused and
    foreach) had all 8 modes, high-quality shares 0.42–0.83; the bounds leave a mode and 0.17. A trainer that does
    not learn (learning rate 1e-7) is the control: it must fail the criterion."""
    learned = _coverage("ring8", tmp_path / "learns", [])
    assert _covers("ring8", learned), learned
    control = _coverage("ring8", tmp_path / "control", ["optim.lr=1e-7"], steps=100)
    assert not _covers("ring8", control), control


def test_grid25_preset_covers_every_mode(tmp_path):
    """The grid25 preset (the relativistic pairing loss with R1 + R2) after 2,000 steps: at least 24 of the 25 modes
    and at least 0.15 of the samples within 3σ. Evidence, `python benchmarks/toy_seeds.py --study modes-grid25
    --every 1000 --threads 1 [--adam foreach]` (benchmarks/results/cpu-2core-toy-seeds-modes-grid25-rpgan-*.log):
    at 2,000 steps all 8 seeds with Adam fused and seeds 0–1 with foreach had all 25 modes, high-quality shares
    0.29–0.67; the bounds leave a mode and 0.14. A trainer that does not learn (learning rate 1e-7) is the control:
    it must fail the criterion."""
    learned = _coverage("grid25", tmp_path / "learns", [])
    assert _covers("grid25", learned), learned
    control = _coverage("grid25", tmp_path / "control", ["optim.lr=1e-7"], steps=100)
    assert not _covers("grid25", control), control


def test_resume_is_bit_identical(tmp_path, tiny_images):
    """2N steps in one go == N steps, resume, N more (dropout, data order, optimiser state, schedules included)."""
    cfg = quick_config(train={"steps": 16, "checkpoint_every": 100})
    Trainer(cfg, tmp_path / "one", dataset=tiny_images).fit()
    Trainer(
        quick_config(train={"steps": 8, "checkpoint_every": 100}),
        tmp_path / "two",
        dataset=tiny_images,
    ).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=16"], dataset=tiny_images).fit()
    one = same_checkpoints(tmp_path / "one", tmp_path / "two")
    assert any(k.startswith("opt_d.state") for k in one) and "sampler.perm" in one
    # tiny data: 300 samples / batch 20 = 15 steps per epoch, so the resumed half crossed an epoch boundary
    assert [r["step"] for r in read_metrics(tmp_path / "one")] == [3, 6, 9, 12, 15, 16]
    # 8: end of the first half
    assert [r["step"] for r in read_metrics(tmp_path / "two")] == [3, 6, 8, 9, 12, 15, 16]


_DCGAN = {"arch": "dcgan", "width": 8}
RESUME_CASES = {
    "sn-hinge-ema-ttur": {
        "model": {
            **_DCGAN,
            "spectral_norm": True,
            "d_norm": "none",
            "z_dim": 16,
            "prior": "normal",
        },
        "objective": {"loss": "hinge"},
        "train": {"ema_half_life_kimg": 0.1},
        "optim": {
            "name": "adam",
            "lr": 1e-4,
            "lr_d": 4e-4,
            "lr_g": 1e-4,
            "beta1": 0.0,
            "beta2": 0.9,
        },
    },
    "lazy-r1": {
        "model": {**_DCGAN, "d_norm": "none"},
        "objective": {"r1": 1.0, "reg_every": 3},
        "optim": {"name": "adam", "lr": 2e-4},
    },
    "wgan-gp-k2": {
        "model": {**_DCGAN, "d_norm": "layer"},
        "objective": {"loss": "wgan", "gp": 10.0},
        "optim": {"name": "adam", "lr": 1e-4},
        "train": {"k": 2},
    },
    "bf16-dcgan-batchnorm": {
        "model": {**_DCGAN, "d_norm": "batch"},
        "optim": {"name": "adam", "lr": 2e-4},
        "train": {"precision": "bf16"},
    },
    "bf16-paper": {"train": {"precision": "bf16"}},
    "acgan-dcgan": {
        "model": {**_DCGAN, "conditional": "acgan", "d_norm": "none"},
        "optim": {"name": "adam", "lr": 2e-4},
    },
    "projection-ema": {
        "model": {**_DCGAN, "conditional": "projection", "d_norm": "none"},
        "optim": {"name": "adam", "lr": 2e-4},
        "train": {"ema_half_life_kimg": 0.1},
    },
    "dcgan-sgd-k2": {
        "model": _DCGAN,
        "optim": {"name": "sgd", "lr": 0.01, "momentum": 0.5},
        "train": {"k": 2},
    },
    # the R3GAN recipe: nf-resnet, rpgan with R1 + R2, Adam β1 0, and every cosine ramp crossing the resume point
    "nf-resnet-rpgan-ramps": {
        "model": {"arch": "nf-resnet", "width": 8, "group_size": 4, "z_dim": 16, "prior": "normal"},
        "objective": {"loss": "rpgan", "r1": 0.5, "r2": 0.5, "penalty_final": 0.1},
        "optim": {
            "name": "adam",
            "lr": 2e-4,
            "lr_final": 5e-5,
            "beta1": 0.0,
            "beta2": 0.9,
            "beta2_final": 0.99,
        },
        "train": {
            "ema_half_life_kimg": 0.1,
            "ema_half_life_final_kimg": 0.5,
            "augment": "translation",
            "augment_p": 0.6,
            "augment_p_final": 0.1,
            "ramp_kimg": 0.5,
        },
    },
    # ADA (hinge) adjusting p every 3 steps: p and the sums of r_t since the last adjustment cross the resume point
    "dcgan-hinge-ada": {
        "model": {**_DCGAN, "d_norm": "none"},
        "objective": {"loss": "hinge"},
        "optim": {"name": "adam", "lr": 2e-4},
        "train": {
            "augment": "flip,rot90,translation",
            "ada_target": 0.2,
            "ada_kimg": 0.2,
            "ada_interval": 3,
        },
    },
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resume_is_bit_identical_across_configurations(tmp_path, case):
    """12 steps in one go == 5, resume, 7 more, for objectives, penalties, EMA, bf16, conditional, k = 2, ADA and the
    cosine ramps (500 images: they end between the resume point, 160 images, and the end, 384) on 28×28 images
    (convolutional models run channels-last on CPU)."""
    x = torch.randint(
        0, 256, (96, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    data = Dataset("tiny28", "image", {"train": Split(x, torch.arange(96) % 10)})

    def config(steps: int):
        sections = {k: dict(v) for k, v in RESUME_CASES[case].items()}
        sections["train"] = {
            **sections.get("train", {}),
            "steps": steps,
            "batch_size": 16,
            "checkpoint_every": 100,
        }
        return quick_config(**sections)

    Trainer(config(12), tmp_path / "one", dataset=data).fit()
    Trainer(config(5), tmp_path / "two", dataset=data).fit()
    Trainer.resume(tmp_path / "two", ["train.steps=12"], dataset=data).fit()
    same_checkpoints(tmp_path / "one", tmp_path / "two")


def test_resume_changes_training_if_state_were_lost(tmp_path, tiny_images):
    """The resume test can fail: a run restarted without its RNG state diverges from the one-go run."""
    Trainer(quick_config(train={"steps": 16}), tmp_path / "one", dataset=tiny_images).fit()
    Trainer(quick_config(train={"steps": 8}), tmp_path / "two", dataset=tiny_images).fit()
    trainer = Trainer.resume(tmp_path / "two", ["train.steps=16"], dataset=tiny_images)
    trainer.streams.torch.reseed(123)  # clobber the dropout stream
    trainer.fit()
    one, two = saved_checkpoint(tmp_path / "one"), saved_checkpoint(tmp_path / "two")
    assert not torch.equal(one["D.net.1.linear.weight"], two["D.net.1.linear.weight"])


def test_run_folder_contents(tmp_path, tiny_images):
    run = tmp_path / "run"
    Trainer(quick_config(), run, dataset=tiny_images).fit()
    assert (run / "config.yaml").is_file()
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == [3, 6, 9, 10]
    for key in (
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "lr",
        "momentum",
        "grad_norm_d",
        "grad_norm_g",
        "img_per_s",
        "nimg",
        "epoch",
    ):
        assert key in rows[0], key
    assert rows[-1]["nimg"] == 10 * 20
    assert rows[0]["lr"] == pytest.approx(0.1 / 1.000004**2)  # lr of the third update
    assert sorted(p.name for p in (run / "samples").iterdir()) == [
        "step-000000005.png",
        "step-000000010.png",
    ]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step-000000010"
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    meta = json.loads((run / "checkpoints" / "step-000000010.json").read_text())
    assert meta["step"] == 10 and meta["nimg"] == 200 and meta["config"]["train"]["steps"] == 10


@pytest.mark.parametrize("k", [1, 2])
def test_gradient_norms_only_on_logged_steps_and_of_that_step(tmp_path, tiny_images, k):
    """A step's stats carry the gradient norms only when the loop logs after it (every log_every steps and at the
    last step), and they are the norms of that step's gradients: the last D update's and the G update's."""
    trainer = Trainer(
        quick_config(train={"steps": 5, "log_every": 3, "k": k}),
        tmp_path / "run",
        dataset=tiny_images,
    )
    measured = []
    for step in range(1, 6):
        _, stats = trainer.train_step()
        assert ("grad_norm_d" in stats) == ("grad_norm_g" in stats) == trainer.logs_at(step)
        if "grad_norm_g" in stats:
            measured.append(step)
            for name, module in (("grad_norm_d", trainer.D), ("grad_norm_g", trainer.G)):
                by_hand = torch.cat([p.grad.double().flatten() for p in module.parameters()]).norm()
                # float32 sums
                assert stats[name].item() == pytest.approx(by_hand.item(), rel=1e-4), name
    assert measured == [3, 5]


@pytest.mark.parametrize(
    "stop, expected_steps",
    [({"steps": 7}, 7), ({"epochs": 1.0}, 15), ({"nimg": 100}, 5), ({"k": 2, "nimg": 100}, 3)],
)
def test_stop_conditions(tmp_path, tiny_images, stop, expected_steps):
    train = {"steps": None, **stop}
    trainer = Trainer(quick_config(train=train), tmp_path / "run", dataset=tiny_images)
    trainer.fit()
    assert trainer.step == expected_steps


@pytest.mark.parametrize("stop, expected_steps", [({"nimg": 100}, 3), ({"epochs": 1.0}, 8)])
def test_image_stops_count_the_real_batch_a_relativistic_g_sees(
    tmp_path, tiny_images, stop, expected_steps
):
    """RpGAN's G loss shows D a real batch as well: 2 × 20 real samples per step, so 100 images take 3 steps and one
    pass over the 300 pictures 8 (counting only D's batch would stop at 5 and 15, twice the images asked for)."""
    cfg = quick_config(objective={"loss": "rpgan"}, train={"steps": None, **stop})
    trainer = Trainer(cfg, tmp_path / "run", dataset=tiny_images)
    trainer.fit()
    assert trainer.step == expected_steps
    assert trainer.nimg == 40 * expected_steps


def test_minutes_stop(tmp_path, tiny_images):
    trainer = Trainer(
        quick_config(train={"steps": None, "minutes": 0.001}), tmp_path / "run", dataset=tiny_images
    )
    trainer.fit()
    assert 1 <= trainer.step and trainer.elapsed_s >= 0.06


def test_k_discriminator_steps_per_generator_step(tmp_path, tiny_images):
    trainer = Trainer(
        quick_config(train={"k": 3, "steps": 2}), tmp_path / "run", dataset=tiny_images
    )
    calls = {"d": 0, "g": 0}
    d_forward = trainer.D.forward

    def counting(x):  # rows D judges, in its own steps and in G's
        calls[
            "d" if torch.is_grad_enabled() and trainer.D.net[1].linear.weight.requires_grad else "g"
        ] += len(x)
        return d_forward(x)

    trainer.D.forward = counting
    trainer.fit()
    # each D step sees a real and a fake batch of 20
    assert calls == {"d": 2 * 3 * (20 + 20), "g": 2 * 20}
    assert trainer.nimg == 2 * 3 * 20


def test_user_modules_through_python_api(tmp_path):
    from gankit.config import from_dict
    from gankit.data import Dataset, Split

    data = Dataset("pts", "points", {"train": Split(torch.randn(200, 3))})
    G = MLPGenerator(out_shape=(3,), z_dim=4, hidden=16, layers=1)
    D = MLPDiscriminator(in_shape=(3,), hidden=16, layers=1)
    cfg = from_dict(
        {"optim": {"name": "adam", "lr": 1e-3}, "train": {"steps": 5, "batch_size": 50}}
    )
    trainer = Trainer(cfg, tmp_path / "run", G=G, D=D, dataset=data)
    trainer.fit()
    assert trainer.G is G and trainer.step == 5


def test_existing_nonempty_run_dir_is_refused(tmp_path, tiny_images):
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    from gankit.errors import RunDirError

    with pytest.raises(RunDirError, match="exists and is not empty"):
        Trainer(quick_config(), run, dataset=tiny_images)
    assert sorted(p.name for p in run.iterdir()) == ["precious.txt"]


def test_resume_refuses_changes_that_break_exactness(tmp_path, tiny_images):
    from gankit.errors import ConfigError

    Trainer(quick_config(train={"steps": 2}), tmp_path / "run", dataset=tiny_images).fit()
    with pytest.raises(ConfigError, match="--resume allows overriding only"):
        Trainer.resume(tmp_path / "run", ["optim.lr=0.5"], dataset=tiny_images)


@pytest.mark.parametrize("arch", ["paper-mlp", "mlp", "dcgan"])
def test_every_architecture_trains_on_28px_images(tmp_path, arch):
    from gankit.data import Dataset, Split

    x = torch.randint(
        0, 256, (64, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    data = Dataset("tiny28", "image", {"train": Split(x)})
    cfg = quick_config(
        model={"arch": arch, "width": 8, "hidden": 16},
        optim={"name": "adam", "lr": 1e-3},
        train={"steps": 3, "batch_size": 16},
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=data)
    before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))
    expected_range = "unit" if arch == "paper-mlp" else "symmetric"
    assert trainer.G.value_range == expected_range
    lo = 0.0 if expected_range == "unit" else -1.0
    batch, _ = trainer.batches.at(torch.arange(64))  # what D is shown: the whole set, in G's range
    assert batch.dtype == torch.float32 and batch.min().item() >= lo and batch.max().item() <= 1.0
    assert trainer.x.data_ptr() == x.data_ptr()  # the set itself is held once, as uint8, not copied
    assert (tmp_path / "run" / "samples" / "step-000000003.png").is_file()


@pytest.mark.parametrize("conditional", ["none", "projection", "acgan"])
def test_joint_real_fake_pass_equals_two_passes(tmp_path, conditional):
    """A D step judging [real; fake] in one pass (gankit's D without batch norm) updates D as two passes would; D's
    first layer sees one batch of 2m rows in the joint step and two of m rows otherwise."""
    import copy

    from gankit.data import Dataset, Split
    from gankit.train.algorithm import d_step

    points = torch.randn(64, 2, generator=torch.Generator().manual_seed(0))
    data = Dataset("pts", "points", {"train": Split(points, torch.arange(64) % 4)})
    cfg = quick_config(
        model={"arch": "mlp", "hidden": 16, "conditional": conditional},
        optim={"name": "adam", "lr": 1e-2},
        train={"batch_size": 16},
    )
    trainer = Trainer(cfg, tmp_path / "run", dataset=data)
    assert trainer.players.runtime.joint_d
    real, y = trainer.batches.real()
    z = trainer.batches.noise()
    y = y if conditional != "none" else None
    results = {}
    for joint in (True, False):
        players = copy.deepcopy(trainer.players)
        players.runtime.joint_d = joint
        rows = []
        first = next(m for m in players.D.modules() if isinstance(m, torch.nn.Linear))
        first.register_forward_hook(lambda module, inputs, output: rows.append(len(inputs[0])))
        stats = d_step(players, real, z, y)
        assert rows == ([32] if joint else [16, 16]), rows
        results[joint] = (stats, [p.detach() for p in players.D.parameters()])
    for key, value in results[True][0].items():
        assert torch.allclose(value, results[False][0][key], rtol=1e-5, atol=1e-7), key
    for a, b in zip(results[True][1], results[False][1]):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_joint_pass_only_for_gankit_ds_without_batch_norm(tmp_path, tiny_images):
    from gankit.data import Dataset, Split

    paper = Trainer(quick_config(train={"steps": 1}), tmp_path / "paper", dataset=tiny_images)
    assert paper.players.runtime.joint_d  # maxout + dropout: samples do not interact
    images = Dataset(
        "im", "image", {"train": Split(torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8))}
    )
    dcgan = Trainer(
        quick_config(
            model={"arch": "dcgan", "width": 8, "d_norm": "batch"},
            train={"steps": 1, "batch_size": 16},
        ),
        tmp_path / "dcgan",
        dataset=images,
    )
    # batch norm: real and fake keep separate batch statistics
    assert not dcgan.players.runtime.joint_d
    data = Dataset("pts", "points", {"train": Split(torch.randn(200, 3))})
    user = Trainer(
        quick_config(model={"arch": "mlp"}, train={"steps": 1, "batch_size": 50}),
        tmp_path / "user",
        G=MLPGenerator(out_shape=(3,), z_dim=4, hidden=16, layers=1),
        D=MLPDiscriminator(in_shape=(3,), hidden=16, layers=1),
        dataset=data,
    )
    # a user's D might couple samples in ways gankit cannot see
    assert not user.players.runtime.joint_d
