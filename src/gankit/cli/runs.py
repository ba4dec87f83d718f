"""``gankit figures`` and ``gankit report``: a run's figures and its one-page report."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import Command


def run_folder(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")


def cmd_figures(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..figures import make_figures

    for path in make_figures(Path(args.run)):
        print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..figures import make_report

    print(f"wrote {make_report(Path(args.run))}")
    return 0


FIGURES = Command(
    "figures", "write the run's figures (PNG/GIF) into RUN/figures/", run_folder, cmd_figures
)
REPORT = Command("report", "write RUN/report.html, one self-contained page", run_folder, cmd_report)
