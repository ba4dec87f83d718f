"""Quality per unit of compute: train presets, and at fixed marks of training time evaluate FID and the class
coverage; a table (markdown) and a plot of FID against training minutes.

    python benchmarks/quality.py --presets fashion-rpgan-dcgan fashion-ns-r1 --marks 10 20 30 --n 10000 \
        --out runs/quality --table benchmarks/results/quality.md --plot docs/quality.png

Each preset trains with ``train.minutes`` = the first mark, is evaluated, then resumes (bit-exact) to the next mark,
and so on: evaluation time is not training time (both are reported). ``--budget kimg`` reads the marks as thousands of
real images shown to D (``train.nimg``) instead: such a row is reproducible on any machine, however fast.
``--seeds S`` trains every preset with ``train.seed`` 0 … S−1 and adds a table of mean ± std (sample standard
deviation), min and max per mark; ``--seed K`` trains and evaluates only seed K of them, so seeds can run side by
side in processes of their own (e.g. ``--threads 1`` each, one per core). ``--stage train`` only trains (every mark's
checkpoint is kept) and ``--stage eval --out SAME`` evaluates later, e.g. while the machine is no longer quiet;
``OUT/marks.jsonl`` and ``OUT/rows.jsonl`` record what is done, so an interrupted stage picks up where it stopped.
Lucic et al. (2018) protocol: 10k generated
vs the 10k test images (``--n 10000 --n-ref 10000``; a smaller n reads higher for FID). Their best Fashion-MNIST
FIDs: WGAN 21.5, BEGAN 22.9, WGAN-GP 24.5, NS GAN 26.5. Each row also says whether the run's doctor warned of
mode collapse. Time the runs on a quiet machine: the budget is wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from gankit.config import load_config
from gankit.evaluation import EvalOptions, evaluate_run
from gankit.train import Trainer
from gankit.train.checkpoint import step_name


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def data_name(args: argparse.Namespace) -> str:
    """The data the first preset trains on (with the ``--set`` overrides), for the table's header and the plot."""
    return load_config(args.presets[0], args.set).data.name


def machine(device: str) -> str:
    """The hardware in words, for the table."""
    if device != "cpu" and torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{cpu_name()} ({os.cpu_count()} cores), {torch.get_num_threads()} torch threads"


def stop_at(mark: float, budget: str) -> list[str]:
    """The stop overrides of a mark: ``mark`` minutes, or ``mark`` thousand real images."""
    if budget == "kimg":
        return ["train.minutes=null", f"train.nimg={round(1000 * mark)}"]
    return ["train.nimg=null", f"train.minutes={mark}"]


def train_to(
    preset: str, run: Path, mark: float, args: argparse.Namespace, seed: int
) -> tuple[Trainer, float]:
    """Train (or resume) ``run`` until the mark (minutes or kimg, ``args.budget``); returns the trainer and the wall
    seconds."""
    started = time.monotonic()
    if (run / "checkpoints").exists():
        trainer = Trainer.resume(run, stop_at(mark, args.budget))
    else:
        overrides = ["train.epochs=null", "train.steps=null", f"train.device={args.device}"]
        overrides += [*stop_at(mark, args.budget), f"train.seed={seed}", *args.set]
        trainer = Trainer(load_config(preset, overrides), run)
    trainer.fit()
    return trainer, time.monotonic() - started


def collapse_warnings(run: Path) -> int:
    path = run / "doctor.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return sum(r["kind"] == "mode_collapse" for r in rows)


def run_name(preset: str, seed: int) -> str:
    return preset if seed == 0 else f"{preset}-seed{seed}"


def train_mark(preset: str, seed: int, mark: float, args: argparse.Namespace, root: Path) -> dict:
    """Train ``preset`` (``train.seed`` = ``seed``) to the mark; the row names the checkpoint that holds it (all are
    kept)."""
    run = root / run_name(preset, seed)
    trainer, wall_s = train_to(preset, run, mark, args, seed)
    keep_mark(run / "checkpoints", root / "marks" / run.name / "checkpoints", trainer.step)
    return {
        "preset": preset,
        "seed": seed,
        "budget": args.budget,
        "mark": mark,
        "minutes": trainer.elapsed_s / 60,
        "steps": trainer.step,
        "kimg": trainer.nimg / 1000,
        "train_s": trainer.elapsed_s,
        "wall_s": wall_s,
        "collapse_warnings": collapse_warnings(run),
    }


def keep_mark(checkpoints: Path, store: Path, step: int) -> None:
    """Copy checkpoint ``step`` into ``store`` (a run folder's ``checkpoints/`` layout), out of the run's rotation."""
    store.mkdir(parents=True, exist_ok=True)
    for suffix in (".json", ".safetensors"):
        shutil.copy2(
            checkpoints / f"{step_name(step)}{suffix}", store / f"{step_name(step)}{suffix}"
        )


def evaluate_mark(row: dict, args: argparse.Namespace, root: Path) -> dict:
    """``--metrics`` (FID and classifier scores by default) of the generator the run samples (EMA if any) at the
    mark's checkpoint."""
    started = time.monotonic()
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    result = evaluate_run(
        root / "marks" / run_name(row["preset"], row["seed"]),
        EvalOptions(
            metrics=args.metrics.split(","),
            n=args.n,
            n_ref=args.n_ref,
            device=device,
            kid_subset=min(1000, args.n, args.n_ref),
        ),
        checkpoint=str(row["steps"]),
    )
    values = {r["metric"]: r["value"] for r in result["rows"]}
    stamp = result["rows"][0]["protocol"]
    seconds = time.monotonic() - started
    return {**row, "n": args.n, "n_ref": args.n_ref, "eval_s": seconds, **values, "protocol": stamp}


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def append_row(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def run_stages(args: argparse.Namespace, root: Path) -> list[dict]:
    """Train the marks not yet trained, then evaluate those not yet evaluated (``--stage`` picks either or both);
    ``ROOT/marks.jsonl`` and ``ROOT/rows.jsonl`` record them, so a stage can run later or be picked up again."""
    marks_file, rows_file = root / "marks.jsonl", root / "rows.jsonl"
    seeds = range(args.seeds) if args.seed is None else [args.seed]
    for preset in args.presets:
        for seed in seeds:
            for mark in sorted(args.marks):
                done = [mark_key(r) for r in read_rows(marks_file)]
                if args.stage != "eval" and (preset, seed, args.budget, mark) not in done:
                    append_row(marks_file, train_mark(preset, seed, mark, args, root))
                if args.stage == "both":
                    evaluate_pending(args, root, marks_file, rows_file)
    if args.stage == "eval":
        evaluate_pending(args, root, marks_file, rows_file)
    return [r for r in read_rows(rows_file) if wanted(r, args)]


def mark_key(row: dict) -> tuple:
    """What identifies a trained mark: (preset, seed, budget, mark)."""
    return row["preset"], row["seed"], row["budget"], row["mark"]


def wanted(row: dict, args: argparse.Namespace) -> bool:
    """Whether a row (trained or evaluated) is one this invocation asks for."""
    return (
        row["preset"] in args.presets
        and row["seed"] < args.seeds
        and args.seed in (None, row["seed"])
        and row["budget"] == args.budget
        and row["mark"] in args.marks
        and (row.get("n", args.n), row.get("n_ref", args.n_ref)) == (args.n, args.n_ref)
    )


def evaluate_pending(
    args: argparse.Namespace, root: Path, marks_file: Path, rows_file: Path
) -> None:
    evaluated = {mark_key(r) for r in read_rows(rows_file) if wanted(r, args)}
    for row in read_rows(marks_file):
        if wanted(row, args) and mark_key(row) not in evaluated:
            append_row(rows_file, evaluate_mark(row, args, root))


def table(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| preset | seed | minutes | steps | images seen (k) | FID | KID × 1000 | classes covered | "
        "class KL | collapse warnings | eval s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    nan = float("nan")
    for r in rows:
        lines.append(
            f"| {r['preset']} | {r['seed']} | {r['minutes']:.2f} | {r['steps']} | {r['kimg']:.0f} | "
            f"{r.get('fid', nan):.2f} | {1000 * r.get('kid', nan):.2f} | "
            f"{r.get('classes_covered', nan):.0f} | {r.get('class_kl', nan):.3f} | "
            f"{r['collapse_warnings']} | {r['eval_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def number(value: float) -> str:
    """Two decimals, or three significant digits below 1 (a precision of 0.0282 stays 0.0282)."""
    return f"{value:.2f}" if abs(value) >= 1 or value == 0 else f"{value:.3g}"


def spread(values: list[float]) -> str:
    """``mean ± std (min–max)``, std the sample standard deviation (n − 1); a lone value as itself."""
    mean = sum(values) / len(values)
    if len(values) == 1:
        return number(mean)
    std = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return f"{number(mean)} ± {number(std)} ({number(min(values))}–{number(max(values))})"


SCALED = {"kid": ("KID × 1000", 1000.0)}  # metric → (column, factor), as the per-run table shows it


def seed_table(rows: list[dict], metrics: list[str]) -> str:
    """Per preset and mark, over seeds: steps, images seen and each metric as mean ± std (min–max)."""
    unit = "minutes" if rows[0]["budget"] == "minutes" else "kimg"
    names = [SCALED.get(m, (m, 1.0))[0] for m in metrics]
    lines = [
        f"| preset | {unit} | seeds | steps | images seen (k) | " + " | ".join(names) + " |",
        "|---|---|---|---|---|" + "---|" * len(metrics),
    ]
    for preset, mark in dict.fromkeys((r["preset"], r["mark"]) for r in rows):
        mine = [r for r in rows if (r["preset"], r["mark"]) == (preset, mark)]
        cells = [spread([SCALED.get(m, (m, 1.0))[1] * float(r[m]) for r in mine]) for m in metrics]
        steps, kimg = spread([r["steps"] for r in mine]), spread([r["kimg"] for r in mine])
        lines.append(
            f"| {preset} | {mark:g} | {len(mine)} | {steps} | {kimg} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in dict.fromkeys(run_name(r["preset"], r["seed"]) for r in rows):
        mine = [r for r in rows if run_name(r["preset"], r["seed"]) == name]
        ax.plot([r["train_s"] / 60 for r in mine], [r["fid"] for r in mine], marker="o", label=name)
    ax.set(xlabel="training minutes", ylabel="FID (lower is better)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", nargs="+", default=["fashion-ns-r1"])
    p.add_argument(
        "--marks",
        nargs="+",
        type=float,
        default=[10, 20, 30],
        help="training minutes to evaluate at",
    )
    p.add_argument(
        "--minutes", type=float, default=None, help="a single mark (the same as --marks MINUTES)"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override for every preset"
    )
    p.add_argument("--n", type=int, default=10_000, help="generated images evaluated")
    p.add_argument(
        "--n-ref",
        type=int,
        default=10_000,
        help="reference images (the test split, or a set without one)",
    )
    p.add_argument(
        "--metrics",
        default="fid,classifier",
        help="comma-separated, as gankit eval --metrics (emoji or a folder: fid,kid)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--seeds", type=int, default=1, help="train.seed 0 … S−1 for every preset")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="only this one of the S seeds (seeds side by side in processes of their own, same --out)",
    )
    p.add_argument(
        "--budget",
        choices=["minutes", "kimg"],
        default="minutes",
        help="the marks are training minutes, or thousands of real images shown to D (train.nimg)",
    )
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)"
    )
    p.add_argument("--out", default=None, help="keep the runs here (default: a temporary folder)")
    p.add_argument(
        "--stage",
        choices=["both", "train", "eval"],
        default="both",
        help="train the marks, evaluate them (an earlier --stage train's --out), or both in turn",
    )
    p.add_argument("--table", default=None, help="also write the markdown table here")
    p.add_argument("--plot", default=None, help="write a PNG of FID against training minutes here")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.minutes:
        args.marks = [args.minutes]
    if args.seed is not None and not 0 <= args.seed < args.seeds:
        raise SystemExit(
            f"--seed {args.seed}: must be one of 0 … {args.seeds - 1} (--seeds {args.seeds})"
        )
    root = Path(args.out or tempfile.mkdtemp(prefix="gankit-quality-"))
    if args.stage == "eval" and not (root / "marks.jsonl").exists():
        raise SystemExit(
            f"--stage eval: no {root / 'marks.jsonl'}; run --stage train with this --out first"
        )
    rows = run_stages(args, root)
    if not rows:
        print(f"trained the marks into {root}; evaluate them with --stage eval --out {root}")
        return
    header = (
        f"Machine: {machine(args.device)}; torch {torch.__version__}; FID of {args.n} generated vs "
        f"{args.n_ref} reference images ({data_name(args)}); runs in {root}"
    )
    text = table(rows, header)
    if args.seeds > 1 and args.seed is None:
        names = (
            "fid",
            "kid",
            "precision",
            "recall",
            "fid_classifier",
            "classes_covered",
            "class_kl",
        )
        metrics = [m for m in names if all(m in r for r in rows)]
        text += "\n" + seed_table(rows, metrics)
    text += "\nprotocol: " + json.dumps(rows[0]["protocol"]) + "\n"
    print(text)
    if args.table:
        Path(args.table).write_text(text, encoding="utf-8")
    if args.plot:
        plot(rows, Path(args.plot), f"{data_name(args)}, {machine(args.device)}")


if __name__ == "__main__":
    main()
