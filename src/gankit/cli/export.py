"""``gankit export``: a run's generator as an ONNX file or a torch.export program, for programs without gankit."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import Command, checkpoint_arguments


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder")
    p.add_argument(
        "--format",
        dest="fmt",
        default="onnx",
        help="onnx (default; needs gankit[export]) or pt2 (torch.export, read with "
        "torch.export.load)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="file to write, ending in .FORMAT (default RUN/export/generator.FORMAT); its JSON is OUT.json",
    )
    p.add_argument("--raw", action="store_true", help="the raw G instead of its EMA copy")
    p.add_argument(
        "--uint8", action="store_true", help="output uint8 pixels 0..255 instead of G's range"
    )
    checkpoint_arguments(p)


def cmd_export(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..export import export_run

    out, about = export_run(
        Path(args.run),
        Path(args.out) if args.out else None,
        fmt=args.fmt,
        raw=args.raw,
        uint8=args.uint8,
        which=args.checkpoint,
    )
    print(f"wrote {out} and {about}")
    return 0


COMMAND = Command(
    "export", "write a run's generator as ONNX or a torch.export program", arguments, cmd_export
)
