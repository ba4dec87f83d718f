"""What the commands share: the command record, argument checks and exit codes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable

from ..errors import GankitError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Command:
    """One ``gankit NAME`` command: its one-line ``help``, ``arguments(parser)`` declaring its options and
    ``run(args)`` → exit status."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def positive(name: str, value: int) -> int:
    """``value`` when ≥ 1, else a one-line error naming ``--name``."""
    if value < 1:
        raise GankitError(f"--{name} must be at least 1, got {value}")
    return value


def checkpoint_arguments(p: argparse.ArgumentParser) -> None:
    """``--checkpoint latest|STEP`` or ``--best`` (the checkpoint kept by quality tracking, ``checkpoints/best``),
    both into ``args.checkpoint``."""
    which = p.add_mutually_exclusive_group()
    which.add_argument("--checkpoint", default="latest", help="latest (default) or a step number")
    which.add_argument(
        "--best",
        dest="checkpoint",
        action="store_const",
        const="best",
        help="the best checkpoint by the metric tracked during training (train.eval_every_kimg)",
    )
