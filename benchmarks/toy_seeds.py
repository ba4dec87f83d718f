"""How the toy-learning tests' measurements vary with the seed (the figures quoted in their docstrings).

gauss1d (tests/test_train.py::test_gauss1d_learns_mean_and_std): median over steps 1000, 1100, …, 2000 of the
samples' mean and standard deviation (the data: 1.5 and 0.5). ring8 (::test_ring8_samples_move_from_prior_to_ring):
median over steps 600, 700, …, 1200 of the samples' mean distance to the unit circle, and that distance before
training. Each line also lists the per-step values, whose swing is why the tests take a median.

    python benchmarks/toy_seeds.py [--gauss1d-seeds 8] [--ring8-seeds 6]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Callable

import torch

from gankit.config import load_config
from gankit.train import Trainer


def _window(preset: str, seed: int, steps: int, start: int, measure: Callable[[torch.Tensor], list[float]],
            n: int) -> tuple[list[float], list[list[float]]]:
    """``measure(samples)`` before training, then every 100 steps from ``start`` to ``steps``, for one seed."""
    cfg = load_config(preset, [f"train.steps={steps}", "train.sample_every=100000", f"train.seed={seed}"])
    trainer = Trainer(cfg, Path(tempfile.mkdtemp(prefix=f"{preset}-{seed}-")) / "run")
    z = trainer.G.sample_z(n, generator=torch.Generator().manual_seed(1))
    before, window = measure(trainer.generate(z)), []
    for step in range(1, steps + 1):
        trainer.train_step()
        if step >= start and step % 100 == 0:
            window.append(measure(trainer.generate(z)))
    return before, window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gauss1d-seeds", type=int, default=8)
    parser.add_argument("--ring8-seeds", type=int, default=6)
    args = parser.parse_args()
    for seed in range(args.gauss1d_seeds):
        _, window = _window("gauss1d", seed, 2000, 1000, lambda x: [x.mean().item(), x.std().item()], 5000)
        means, stds = [w[0] for w in window], [w[1] for w in window]
        print(f"gauss1d seed {seed}: median mean {statistics.median(means):.3f}, median std "
              f"{statistics.median(stds):.3f}; stds {' '.join(f'{s:.2f}' for s in stds)}", flush=True)
    for seed in range(args.ring8_seeds):
        distance = lambda x: [(x.norm(dim=1) - 1).abs().mean().item()]  # noqa: E731
        before, window = _window("ring8", seed, 1200, 600, distance, 2000)
        values = [w[0] for w in window]
        print(f"ring8 seed {seed}: before {before[0]:.3f}, median {statistics.median(values):.3f}; "
              f"{' '.join(f'{v:.2f}' for v in values)}", flush=True)


if __name__ == "__main__":
    main()
