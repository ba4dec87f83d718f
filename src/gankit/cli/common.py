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
