"""Training steps per second of presets, compared between source trees: each (tree, preset) timing runs in a fresh
process with that tree first on ``PYTHONPATH``, the trees taking turns round after round, so a slow spell on a shared
machine lands on all of them. A timing is ``--steps`` calls of ``Trainer.train_step`` after 10 warm-up steps, with
the preset's own settings (no logging, pictures or checkpoints inside the timed steps).

    git worktree add /tmp/before COMMIT
    python benchmarks/step_rate.py --trees /tmp/before/src src --presets quickstart pictures64 --rounds 4

Prints every timing and, per preset, each tree's median and its change against the first tree.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WARM_UP = 10
QUIET = ["train.minutes=null", "train.steps=1000000000"] + [
    f"train.{key}=1000000000" for key in ("log_every", "sample_every", "checkpoint_every")
]


def one_timing(preset: str, steps: int, threads: int) -> float:
    """Steps per second of ``preset`` in this process (the tree it imports gankit from)."""
    import torch

    from gankit.config import load_config
    from gankit.train import Trainer

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(load_config(preset, QUIET), Path(folder) / "run")
        for _ in range(WARM_UP):
            trainer.train_step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        return steps / (time.perf_counter() - start)


def timed_in(tree: str, preset: str, steps: int, threads: int) -> float:
    """:func:`one_timing` in a fresh process importing gankit from the source tree ``tree``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, __file__, "--one", preset, str(steps), str(threads)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--trees", nargs="+", default=["src"], help="source trees (folders holding gankit/)"
    )
    p.add_argument("--presets", nargs="+", default=["quickstart", "pictures64"])
    p.add_argument(
        "--steps", nargs="+", type=int, default=[800, 100], help="timed steps per preset"
    )
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(one_timing(args.one[0], int(args.one[1]), int(args.one[2])))
        return
    steps = dict(zip(args.presets, args.steps + args.steps[-1:] * len(args.presets)))
    rates: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for tree in args.trees if r % 2 == 0 else args.trees[::-1]:
            for preset in args.presets:
                rate = timed_in(str(Path(tree).resolve()), preset, steps[preset], args.threads)
                rates.setdefault((preset, tree), []).append(rate)
                print(f"round {r + 1} {tree} {preset}: {rate:.2f} steps/s", flush=True)
    for preset in args.presets:
        first = statistics.median(rates[(preset, args.trees[0])])
        for tree in args.trees:
            median = statistics.median(rates[(preset, tree)])
            print(
                f"{preset:<12} {tree:<32} median {median:8.2f} steps/s  {median / first - 1:+.1%}"
            )


if __name__ == "__main__":
    main()
