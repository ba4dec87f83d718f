"""``gankit`` command line: one small module per command (train, sample, eval, export, figures, report, datasets,
config, playground), each its arguments beside a thin function over the library.

Errors print one line and exit non-zero; ``GANKIT_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback

from ..errors import GankitError, TrainingInterrupted, first_line
from . import evaluate, explore, export, info, playground, runs, sample, train
from .common import EXIT_ERROR, EXIT_INTERRUPTED, Command

COMMANDS: tuple[Command, ...] = (
    train.COMMAND,
    sample.COMMAND,
    evaluate.COMMAND,
    export.COMMAND,
    explore.COMMAND,
    runs.FIGURES,
    runs.REPORT,
    info.DATASETS,
    playground.COMMAND,
    info.CONFIG,
)


def parser() -> argparse.ArgumentParser:
    """The ``gankit`` parser: one subcommand per entry of COMMANDS."""
    p = argparse.ArgumentParser(
        prog="gankit", description="Generative Adversarial Nets, exact, fast and safe."
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.arguments(sub.add_parser(command.name, help=command.help))
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="gankit: %(levelname)s: %(message)s")
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return next(c for c in COMMANDS if c.name == args.command).run(args)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingInterrupted as e:
        print(f"gankit: {e}", file=sys.stderr)
        return e.exit_code
    except (GankitError, ValueError, OSError) as e:
        if os.environ.get("GANKIT_DEBUG") == "1":
            traceback.print_exc()
        print(f"gankit: error: {first_line(e)}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
