"""Quality benchmark: train Fashion-MNIST presets for a fixed budget, then FID/KID/PR/DC and classifier scores.

    python benchmarks/quality.py --presets fashion-hinge-sn-ema fashion-wgan-gp --minutes 30 --n 10000

Lucic et al. (2018) protocol: 10k generated vs the 10k test images (use --n 10000 --n-ref 10000; on CPU the
Inception network makes that slow — a smaller --n is biased upwards for FID, unbiased for KID). Their best
Fashion-MNIST FIDs: WGAN 21.5, BEGAN 22.9, WGAN-GP 24.5, NS GAN 26.5. Prints one table, with the machine.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.evaluation import EvalOptions, evaluate_run
from gankit.train import Trainer, resolve_device

METRICS = ["fid", "kid", "pr", "dc", "classifier"]
COLUMNS = ["fid", "kid", "precision", "recall", "density", "coverage", "class_kl", "classes_covered"]


def run(preset: str, args: argparse.Namespace, root: Path) -> dict:
    overrides = ["train.epochs=null", f"train.minutes={args.minutes}", f"train.device={args.device}"]
    if args.steps:
        overrides += ["train.minutes=null", f"train.steps={args.steps}"]
    trainer = Trainer(load_config(preset, overrides), root / preset)
    started = time.monotonic()
    trainer.fit()
    train_s = time.monotonic() - started
    device = str(resolve_device(args.device))
    result = evaluate_run(root / preset, EvalOptions(metrics=METRICS, n=args.n, n_ref=args.n_ref,
                                                     kid_subset=min(1000, args.n), device=device))
    values = {r["metric"]: r["value"] for r in result["rows"]}
    return {"preset": preset, "steps": trainer.step, "train_s": train_s, **values}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["fashion-hinge-sn-ema", "fashion-wgan-gp", "fashion-ns-r1"])
    p.add_argument("--minutes", type=float, default=30.0, help="training budget per preset")
    p.add_argument("--steps", type=int, default=None, help="a step budget instead of minutes")
    p.add_argument("--n", type=int, default=10_000, help="generated images evaluated")
    p.add_argument("--n-ref", type=int, default=10_000, help="test images as reference")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.out or tempfile.mkdtemp(prefix="gankit-quality-"))
    rows = [run(preset, args, root) for preset in args.presets]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else \
        f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"machine: {device}; torch {torch.__version__}; n = {args.n} generated vs {args.n_ref} test; runs in {root}")
    print(f"{'preset':<24} {'steps':>7} {'train s':>8} " + " ".join(f"{c:>9}" for c in COLUMNS))
    for r in rows:
        cells = " ".join(f"{r.get(c, float('nan')):>9.4f}" for c in COLUMNS)
        print(f"{r['preset']:<24} {r['steps']:>7} {r['train_s']:>8.0f} {cells}")


if __name__ == "__main__":
    main()
