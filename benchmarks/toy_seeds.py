"""How the toy presets and the toy-learning tests' measurements vary with the seed, the thread count and the
optimiser kernel: the evidence quoted in the tests' docstrings and in docs/benchmarks.md.

Studies (``--study``):

- ``gauss1d`` (tests/test_train.py::test_gauss1d_learns_mean_and_std): median over steps 1000, 1100, …, 2000 of the
  samples' mean and standard deviation (the data: 1.5 and 0.5), and the margin of the worst seed to the test's bounds.
- ``modes-ring8`` (::test_ring8_preset_covers_every_mode), ``modes-grid25``: the preset as shipped (and as the
  playground starts it), modes captured and the share of high-quality samples of the generator used for pictures
  (the EMA copy when the preset has one; PacGAN: 2,500 samples, within 3σ) every ``--every`` steps up to the
  preset's ``train.steps``; the step from which every seed keeps every mode.
- ``conditional`` (tests/test_conditional.py's planted-mixture test): each class's hit rate after 500 steps.
- ``quickstart`` (what ``gankit train`` with no argument trains): the digit classifier's scores of 10,000 samples
  after the whole run: classes covered and the class histogram's KL to uniform.

    python benchmarks/toy_seeds.py --study gauss1d modes-ring8 modes-grid25 [--seeds 8] [--first-seed 0] [--threads 1]
        [--adam fused|foreach] [--every 500] [--steps N] [--set KEY=VALUE ...]

``--set`` trains a variant of the preset (e.g. ``--set objective.loss=rpgan``) with the same measurements.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Callable

import torch

from gankit.config import load_config
from gankit.data.toy import GRID25_STD, RING8_STD, grid25_modes, ring8_modes
from gankit.metrics.modes import mode_coverage
from gankit.train import Trainer

GAUSS1D_BOUNDS = {"mean": (1.5, 0.2), "std": (0.5, 0.25)}  # test: |median - centre| < half-width
QUIET = [
    "train.sample_every=1000000",
    "train.snapshot_every=0",
    "train.checkpoint_every=1000000",
    "train.log_every=1000",
]


def _trained(
    preset: str,
    seed: int,
    steps: int,
    every: int,
    n: int,
    measure: Callable[[torch.Tensor], list[float]],
    overrides: list[str],
) -> tuple[list[float], list[list[float]]]:
    """``measure`` of G's samples for ``n`` fixed noise vectors before training and every ``every`` steps."""
    cfg = load_config(preset, [*overrides, f"train.steps={steps}", f"train.seed={seed}", *QUIET])
    trainer = Trainer(cfg, Path(tempfile.mkdtemp(prefix=f"{preset}-{seed}-")) / "run")
    z = trainer.G.sample_z(n, generator=torch.Generator().manual_seed(1))
    before, rows = measure(trainer.generate(z, trainer.G_eval)), []
    for step in range(1, steps + 1):
        trainer.train_step()
        if step % every == 0:
            rows.append(measure(trainer.generate(z, trainer.G_eval)))
    return before, rows


def study_gauss1d(seeds: range, _every: int, _steps: int | None, overrides: list[str]) -> None:
    worst = {"mean": 0.0, "std": 0.0}
    for seed in seeds:
        _, rows = _trained(
            "gauss1d", seed, 2000, 100, 5000, lambda x: [x.mean().item(), x.std().item()], overrides
        )
        medians = dict(
            zip(("mean", "std"), (statistics.median(r[i] for r in rows[9:]) for i in (0, 1)))
        )
        for key, (centre, _) in GAUSS1D_BOUNDS.items():
            worst[key] = max(worst[key], abs(medians[key] - centre))
        print(
            f"gauss1d seed {seed}: median mean {medians['mean']:.3f}, median std {medians['std']:.3f}",
            flush=True,
        )
    for key, (_, half_width) in GAUSS1D_BOUNDS.items():
        print(
            f"gauss1d {key}: worst |median - target| {worst[key]:.3f}, bound {half_width}, "
            f"margin {half_width - worst[key]:.3f}"
        )


def study_modes(
    preset: str,
    modes: torch.Tensor,
    std: float,
    seeds: range,
    every: int,
    steps: int | None,
    overrides: list[str],
) -> None:
    steps = steps or load_config(preset, overrides).train.steps
    kept_from = every
    for seed in seeds:
        _, rows = _trained(
            preset,
            seed,
            steps,
            every,
            2500,
            lambda x: list(mode_coverage(x, modes, std).values()),
            overrides,
        )
        all_from = next(
            (i for i in range(len(rows)) if all(r[0] == len(modes) for r in rows[i:])), None
        )
        kept_from = max(
            kept_from, (all_from + 1) * every if all_from is not None else steps + every
        )
        print(
            f"{preset} seed {seed}: " + " ".join(f"{r[0]:.0f}/{r[1]:.2f}" for r in rows), flush=True
        )
    print(
        f"{preset}: every seed keeps all {len(modes)} modes from step {kept_from} of {steps} on"
        if kept_from <= steps
        else f"{preset}: some seed lacks a mode at step {steps}"
    )


def study_quickstart(seeds: range, _every: int, steps: int | None, overrides: list[str]) -> None:
    """`gankit train` with no argument: the quickstart preset trained to its end, then the digit classifier's scores
    of 10,000 samples (classes covered of 10, KL of the class histogram to uniform)."""
    from gankit.evaluation import EvalOptions, evaluate_run

    for seed in seeds:
        run = Path(tempfile.mkdtemp(prefix=f"quickstart-{seed}-")) / "run"
        extra = [f"train.steps={steps}"] if steps else []
        Trainer(
            load_config("quickstart", [*overrides, *extra, f"train.seed={seed}", *QUIET]), run
        ).fit()
        rows = evaluate_run(run, EvalOptions(metrics=["classifier"], n=10_000))["rows"]
        values = {r["metric"]: r["value"] for r in rows}
        print(
            f"quickstart seed {seed}: classes covered {values['classes_covered']:.0f}, "
            f"class KL {values['class_kl']:.4f}, classifier FD {values['fid_classifier']:.2f}",
            flush=True,
        )


def study_conditional(seeds: range, _every: int, _steps: int | None, overrides: list[str]) -> None:
    """tests/test_conditional.py::test_labels_are_honoured_on_a_planted_mixture: per conditioning mode, the smallest
    share over classes c of G(z, c) samples nearest to mode c after the test's 500 steps."""
    from gankit.config import from_dict

    for mode in ("concat", "projection", "acgan"):
        worst = []
        for seed in seeds:
            cfg = from_dict(
                {
                    "data": {"name": "ring8", "n_samples": 4096},
                    "model": {
                        "arch": "mlp",
                        "z_dim": 2,
                        "prior": "normal",
                        "hidden": 64,
                        "conditional": mode,
                    },
                    "optim": {"name": "adam", "lr": 2e-3, "beta1": 0.5},
                    "train": {
                        "batch_size": 128,
                        "steps": 500,
                        "seed": seed,
                        "log_every": 500,
                        "sample_every": 10**6,
                        "checkpoint_every": 10**6,
                    },
                }
            )
            trainer = Trainer(
                cfg, Path(tempfile.mkdtemp(prefix=f"conditional-{mode}-{seed}-")) / "run"
            )
            trainer.fit()
            G = trainer.G.eval()
            z = G.sample_z(400, generator=torch.Generator().manual_seed(1), device="cpu")
            with torch.no_grad():
                hits = [
                    (torch.cdist(G(z, torch.full((400,), c)), ring8_modes()).argmin(1) == c)
                    .float()
                    .mean()
                    for c in range(8)
                ]
            worst.append(min(hits).item())
        print(
            f"conditional {mode}: smallest class hit rate per seed "
            + " ".join(f"{w:.3f}" for w in worst),
            flush=True,
        )


STUDIES = {
    "gauss1d": study_gauss1d,
    "quickstart": study_quickstart,
    "conditional": study_conditional,
    "modes-ring8": lambda *args: study_modes("ring8", ring8_modes(), RING8_STD, *args),
    "modes-grid25": lambda *args: study_modes("grid25", grid25_modes(), GRID25_STD, *args),
}


class _ForeachAdam(torch.optim.Adam):
    """torch's Adam with its foreach kernels, whatever fused/foreach choice the caller makes."""

    def __init__(self, params, **kwargs) -> None:
        super().__init__(params, **{**kwargs, "foreach": True, "fused": False})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--study", nargs="+", choices=sorted(STUDIES), default=["gauss1d", "modes-ring8"]
    )
    parser.add_argument("--seeds", type=int, default=8, help="how many seeds")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed, first-seed + 1, ..."
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument(
        "--adam",
        choices=("fused", "foreach"),
        default="fused",
        help="Adam's kernel on CPU (gankit uses fused; foreach is what other devices run)",
    )
    parser.add_argument(
        "--every", type=int, default=500, help="modes studies: steps between measurements"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="modes studies: train this long (default: the preset's train.steps)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override applied to every run (repeatable)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.adam == "foreach":
        # in this script's process only: gankit builds its Adam through this name
        torch.optim.Adam = _ForeachAdam
    print(
        f"# torch {torch.__version__}, {torch.get_num_threads()} threads, Adam {args.adam}, "
        f"overrides {args.overrides}",
        flush=True,
    )
    for name in args.study:
        seeds = range(args.first_seed, args.first_seed + args.seeds)
        STUDIES[name](seeds, args.every, args.steps, args.overrides)


if __name__ == "__main__":
    main()
