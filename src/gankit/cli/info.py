"""``gankit datasets`` and ``gankit config``: what data is present, and configs and their keys."""

from __future__ import annotations

import argparse
import sys

from .common import Command


def dataset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="also look in this folder")


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..config import DataConfig
    from ..data import sources

    rows = []
    for s in sources():
        if s.takes_path:
            rows.append((f"{s.name}:PATH", "-", "your own files", s.summary))
            continue
        status = s.locate(DataConfig(name=s.name, data_dir=args.data_dir), "")
        rows.append(
            (s.name, "yes" if status.present else "no", status.where, status.size or s.summary)
        )
    widths = [
        max(len(r[i]) for r in rows + [("source", "present", "where", "size")]) for i in range(3)
    ]
    print(
        f"{'source':<{widths[0]}}  {'present':<{widths[1]}}  {'where':<{widths[2]}}  size / description"
    )
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0


def config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config", nargs="?", default=None, help="preset name or CONFIG.yaml (default: quickstart)"
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--keys",
        action="store_true",
        help="print every config key with its type, default, allowed values and meaning (Markdown)",
    )


def cmd_config(args: argparse.Namespace) -> int:
    from ..config import load_config, to_yaml

    if args.keys:
        from ..config_doc import keys_markdown

        sys.stdout.write(keys_markdown())
        return 0
    cfg = load_config(args.config, args.overrides)
    inert = cfg.inert_keys()
    for line in cfg.inert_settings():
        print(f"gankit: warning: {line}", file=sys.stderr)
    sys.stdout.write(to_yaml(cfg, skip=inert))
    if inert:
        print(f"# not shown, no effect in this config: {', '.join(inert)}")
    return 0


DATASETS = Command(
    "datasets",
    "list data sources, whether each is present, where and its size",
    dataset_arguments,
    cmd_datasets,
)
CONFIG = Command("config", "print a preset's resolved config as YAML", config_arguments, cmd_config)
