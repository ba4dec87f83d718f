"""Quality per unit of compute: train presets, and at fixed marks of training time evaluate FID and the class
coverage; a table (markdown) and a plot of FID against training minutes.

    python benchmarks/quality.py --presets fashion-r3-small fashion-ns-r1 --marks 10 20 30 --n 10000 \
        --out runs/quality --table benchmarks/results/quality.md --plot docs/quality.png

Each preset trains with ``train.minutes`` = the first mark, is evaluated, then resumes (bit-exact) to the next mark,
and so on: evaluation time is not training time (both are reported). Lucic et al. (2018) protocol: 10k generated
vs the 10k test images (``--n 10000 --n-ref 10000``; a smaller n reads higher for FID). Their best Fashion-MNIST
FIDs: WGAN 21.5, BEGAN 22.9, WGAN-GP 24.5, NS GAN 26.5. Each row also says whether the run's doctor warned of
mode collapse. Time the runs on a quiet machine: the budget is wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.evaluation import EvalOptions, evaluate_run
from gankit.train import Trainer

COLUMNS = ["fid", "classes_covered", "class_kl"]


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine(device: str) -> str:
    """The hardware in words, for the table."""
    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{cpu_name()} ({os.cpu_count()} cores), {torch.get_num_threads()} torch threads"


def train_to(preset: str, run: Path, minutes: float, overrides: list[str], device: str) -> tuple[Trainer, float]:
    """Train (or resume) ``run`` until ``minutes`` of training time; returns the trainer and the wall seconds."""
    started = time.monotonic()
    if (run / "checkpoints").exists():
        trainer = Trainer.resume(run, [f"train.minutes={minutes}"])
    else:
        cfg = load_config(preset, ["train.epochs=null", "train.steps=null", "train.nimg=null",
                                   f"train.minutes={minutes}", f"train.device={device}", *overrides])
        trainer = Trainer(cfg, run)
    trainer.fit()
    return trainer, time.monotonic() - started


def collapse_warnings(run: Path) -> int:
    path = run / "doctor.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return sum(r["kind"] == "mode_collapse" for r in rows)


def measure(preset: str, mark: float, args: argparse.Namespace, root: Path) -> dict:
    """One row: train to ``mark`` minutes, then FID and classifier scores of the EMA/raw G the run samples."""
    run = root / preset
    trainer, wall_s = train_to(preset, run, mark, args.set, args.device)
    started = time.monotonic()
    result = evaluate_run(run, EvalOptions(metrics=["fid", "classifier"], n=args.n, n_ref=args.n_ref,
                                           device="cuda" if torch.cuda.is_available() and args.device != "cpu"
                                           else "cpu"))
    values = {r["metric"]: r["value"] for r in result["rows"]}
    return {"preset": preset, "minutes": mark, "steps": trainer.step, "kimg": trainer.nimg / 1000,
            "train_s": trainer.elapsed_s, "wall_s": wall_s, "eval_s": time.monotonic() - started,
            "collapse_warnings": collapse_warnings(run), **values}


def table(rows: list[dict], header: str) -> str:
    lines = [header, "", "| preset | minutes | steps | images seen (k) | FID | classes covered | class KL | "
             "collapse warnings | eval s |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['preset']} | {r['minutes']:g} | {r['steps']} | {r['kimg']:.0f} | {r['fid']:.2f} | "
                     f"{r.get('classes_covered', float('nan')):.0f} | {r.get('class_kl', float('nan')):.3f} | "
                     f"{r['collapse_warnings']} | {r['eval_s']:.0f} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for preset in dict.fromkeys(r["preset"] for r in rows):
        mine = [r for r in rows if r["preset"] == preset]
        ax.plot([r["train_s"] / 60 for r in mine], [r["fid"] for r in mine], marker="o", label=preset)
    ax.set(xlabel="training minutes", ylabel="FID (lower is better)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["fashion-ns-r1"])
    p.add_argument("--marks", nargs="+", type=float, default=[10, 20, 30], help="training minutes to evaluate at")
    p.add_argument("--minutes", type=float, default=None, help="a single mark (the same as --marks MINUTES)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every preset")
    p.add_argument("--n", type=int, default=10_000, help="generated images evaluated")
    p.add_argument("--n-ref", type=int, default=10_000, help="test images as reference")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    p.add_argument("--table", default=None, help="also write the markdown table here")
    p.add_argument("--plot", default=None, help="write a PNG of FID against training minutes here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.minutes:
        args.marks = [args.minutes]
    root = Path(args.out or tempfile.mkdtemp(prefix="gankit-quality-"))
    rows = []
    for preset in args.presets:
        for mark in sorted(args.marks):
            rows.append(measure(preset, mark, args, root))
            print(json.dumps(rows[-1]), flush=True)
    header = (f"Machine: {machine(args.device)}; torch {torch.__version__}; FID of {args.n} generated vs "
              f"{args.n_ref} test images; runs in {root}")
    text = table(rows, header)
    print(text)
    if args.table:
        Path(args.table).write_text(text, encoding="utf-8")
    if args.plot:
        plot(rows, Path(args.plot), f"Fashion-MNIST, {machine(args.device)}")


if __name__ == "__main__":
    main()
