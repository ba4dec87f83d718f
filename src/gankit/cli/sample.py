"""``gankit sample``: pictures (and an .npz) of a trained run's samples."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import Command, positive


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    p.add_argument("--checkpoint", default="latest", help="latest (default) or a step number")
    p.add_argument(
        "--out",
        default=None,
        help="PNG path (image grid, or a plot for points); default RUN/sample.png",
    )
    p.add_argument(
        "--npz",
        default=None,
        help="also write the samples (key 'x'; labels 'y' if conditional) to this .npz",
    )
    p.add_argument(
        "--class",
        dest="label",
        type=int,
        default=None,
        help="conditional runs: draw only this class (default: classes in turn, one grid column each)",
    )


def cmd_sample(args: argparse.Namespace) -> int:
    from ..train.restore import save_samples

    out = Path(args.out) if args.out else Path(args.run) / "sample.png"
    what = save_samples(
        Path(args.run),
        positive("n", args.n),
        args.seed,
        which=args.checkpoint,
        label=args.label,
        png=out,
        npz=Path(args.npz) if args.npz else None,
    )
    print(f"wrote {out} ({what})")
    if args.npz:
        print(f"wrote {args.npz}")
    return 0


COMMAND = Command("sample", "draw samples from a trained run", arguments, cmd_sample)
