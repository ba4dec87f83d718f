"""``gankit train``: train a GAN from a preset or YAML file (or resume a run), optionally under torchrun."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ..errors import GankitError
from .common import Command, positive


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config", nargs="?", default=None, help="preset name or CONFIG.yaml (default: quickstart)"
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set train.steps=500 (repeatable)",
    )
    p.add_argument(
        "--data",
        default=None,
        metavar="SOURCE",
        help="train on this data source, e.g. folder:~/pictures or points:my.csv (data.name; see "
        "`gankit datasets`)",
    )
    p.add_argument(
        "--data-dir", default=None, help="folder looked in first for dataset files (data.data_dir)"
    )
    p.add_argument(
        "--download",
        action="store_true",
        help="fetch missing official dataset files (data.download)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="folder: data: an unreadable image is an error instead of being skipped (data.strict)",
    )
    _run_arguments(p)


def _run_arguments(p: argparse.ArgumentParser) -> None:
    """Where and how the run goes: its folder, device, resumption, processes."""
    p.add_argument(
        "--run-dir", default=None, help="run folder (default: runs/NAME-YYYYmmdd-HHMMSS)"
    )
    p.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default=None, help="overrides train.device"
    )
    p.add_argument(
        "--resume",
        metavar="RUN_DIR",
        default=None,
        help="continue a run from its newest readable checkpoint",
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="with --resume: start the run again from step 0 instead, its old history (checkpoints, "
        "metrics, pictures) moved into RUN_DIR/before-restart-N/",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="data-parallel processes on this machine, launched through torchrun (one per GPU)",
    )


def _progress_bar(quiet: bool):
    """A tqdm bar fed by the trainer's progress callback (CLI only, docs/design.md, 'Errors and logging')."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    state = {"bar": None}

    def update(trainer, row) -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(
                total=trainer.total_steps(),
                initial=trainer.step - 1,
                unit="step",
                dynamic_ncols=True,
                file=sys.stderr,
            )
        bar.update(1)
        if row is not None:
            bar.set_postfix(
                d_loss=f"{row['d_loss']:.3f}",
                g_loss=f"{row['g_loss']:.3f}",
                D_x=f"{row['d_real']:.2f}",
                D_Gz=f"{row['d_fake']:.2f}",
                **_best(trainer),
                refresh=False,
            )

    def close() -> None:
        if (
            state["bar"] is not None
        ):  # not truthiness: a bar without a total (a time budget) refuses bool()
            state["bar"].close()

    return update, close


def _best(trainer) -> dict[str, str]:
    """The tracked metric's last value and best so far, for the bar (nothing before an evaluation)."""
    q = trainer.quality
    if q is None or q.latest is None:
        return {}
    return {q.metric: f"{q.latest:.4g}", "best": "none" if q.best is None else f"{q.best:.4g}"}


def _default_run_dir(config: str | None) -> str:
    """runs/NAME-YYYYmmdd-HHMMSS, NAME the preset's or the YAML file's stem."""
    name = Path(config).stem if config else "quickstart"
    return os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def _train_overrides(args: argparse.Namespace) -> list[str]:
    """The --set overrides plus those the short options stand for (--data, --device, --data-dir, ...)."""
    overrides = list(args.overrides)
    if args.data is not None:
        if any(o.strip().startswith("data.name") for o in overrides):
            raise GankitError("give the data source once: --data SOURCE or --set data.name=SOURCE")
        overrides.append(f"data.name={args.data}")
    shorts = [
        (args.device, f"train.device={args.device}"),
        (args.data_dir, f"data.data_dir={args.data_dir}"),
        (args.download, "data.download=true"),
        (args.strict, "data.strict=true"),
    ]
    return overrides + [override for given, override in shorts if given]


def _launch(args: argparse.Namespace, argv: list[str]) -> int:
    """Re-run this ``gankit train`` command under torchrun with ``--nproc`` processes (a fixed run folder, so every
    rank uses the same one)."""
    import subprocess

    n = positive("nproc", args.nproc)
    rest, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    if not args.resume and not args.run_dir:
        rest += ["--run-dir", _default_run_dir(args.config)]
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={n}",
        "-m",
        "gankit",
        *rest,
    ]
    print(f"launching: {' '.join(command)}", file=sys.stderr)
    return subprocess.run(command).returncode


def _trainer(args: argparse.Namespace, progress):
    """The Trainer this command asks for: a resumed run (``--resume``) or a new one from a config."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..config import load_config
    from ..evaluation import QualityProbe
    from ..train import Trainer

    if args.resume:
        given = [args.config, args.run_dir, args.data_dir, args.download, args.strict, args.data]
        if any(given):
            raise GankitError(
                "--resume takes the run's own config; pass only --set train.<stop or interval>=..."
            )
        return Trainer.resume(
            args.resume,
            _train_overrides(args),
            progress=progress,
            restart=args.restart,
            probe=QualityProbe(),
        )
    if args.restart:
        raise GankitError("--restart goes with --resume RUN_DIR (it restarts that run)")
    cfg = load_config(args.config, _train_overrides(args))
    run_dir = args.run_dir or _default_run_dir(args.config)
    trainer = Trainer(cfg, run_dir, progress=progress, probe=QualityProbe())
    for line in cfg.inert_settings():
        print(f"gankit: warning: {line}", file=sys.stderr)
    return trainer


def _fit(trainer) -> dict | None:
    """Train to the end, closing the process group either way (distributed runs)."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..train import distributed

    try:
        row = trainer.fit()
    except BaseException:
        distributed.shutdown(wait=False)
        raise
    distributed.shutdown()
    return row


def cmd_train(args: argparse.Namespace) -> int:
    if args.nproc is not None:
        return _launch(args, args.argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not (args.run_dir or args.resume):
        raise GankitError(
            "under torchrun, pass --run-dir (or use gankit train --nproc N) so all ranks share one "
            "run folder"
        )
    progress, close = _progress_bar(args.quiet or rank > 0)
    try:
        trainer = _trainer(args, progress)
        if rank == 0:
            print(f"data: {trainer.dataset.summary(trainer.cfg.data.split)}", file=sys.stderr)
            print(
                f"run folder: {trainer.run_dir}  device: {trainer.device}  start step: {trainer.step}"
                + (f"  processes: {world}" if world > 1 else ""),
                file=sys.stderr,
            )
        row = _fit(trainer)
    finally:
        close()
    if row and rank == 0:
        print(
            f"done: step {row['step']}, {row['nimg']:,} images, {row['time_s']:.1f} s; "
            f"D(x) {row['d_real']:.3f}  D(G(z)) {row['d_fake']:.3f}; samples in {trainer.run_dir / 'samples'}"
        )
    return 0


COMMAND = Command("train", "train a GAN (default preset: quickstart)", arguments, cmd_train)
