"""``gankit sample``: pictures (and an .npz) of a trained run's samples."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import GankitError
from .common import Command, checkpoint_arguments, positive


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    checkpoint_arguments(p)
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
    p.add_argument(
        "--truncation",
        type=float,
        default=1.0,
        metavar="PSI",
        help="pull the noise toward the prior's mean: z' = PSI·z, PSI in [0, 1] (default 1: off)",
    )
    p.add_argument(
        "--walk",
        type=int,
        default=None,
        metavar="N",
        help="instead, an animated GIF (--out walk.gif) of a looping walk through N random points",
    )
    p.add_argument(
        "--frames", type=int, default=24, help="with --walk: frames from each point to the next"
    )


def cmd_sample(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..train.restore import save_samples

    if args.walk is not None:
        return _walk(args)
    out = Path(args.out) if args.out else Path(args.run) / "sample.png"
    what = save_samples(
        Path(args.run),
        positive("n", args.n),
        args.seed,
        which=args.checkpoint,
        label=args.label,
        png=out,
        npz=Path(args.npz) if args.npz else None,
        truncation=args.truncation,
    )
    print(f"wrote {out} ({what})")
    if args.npz:
        print(f"wrote {args.npz}")
    return 0


def _walk(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..walks import save_walk

    if args.npz:
        raise GankitError("--walk writes a GIF only; drop --npz")
    out = Path(args.out) if args.out else Path(args.run) / "walk.gif"
    what = save_walk(
        Path(args.run),
        out,
        positive("walk", args.walk),
        positive("frames", args.frames),
        args.seed,
        which=args.checkpoint,
        label=args.label,
        truncation=args.truncation,
    )
    print(f"wrote {out} ({what})")
    return 0


COMMAND = Command("sample", "draw samples from a trained run", arguments, cmd_sample)
