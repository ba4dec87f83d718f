"""``gankit datasets`` and ``gankit config``: what data is present, and configs and their keys."""

from __future__ import annotations

import argparse
import os
import sys
import time

from ..errors import GankitError
from .common import Command


def dataset_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="also look in this folder")
    p.add_argument(
        "--cache",
        action="store_true",
        help="list the decoded folders in the cache (folder, settings, pictures, size, last used) and its cap",
    )
    p.add_argument("--clear", action="store_true", help="with --cache: remove every decoded folder")


def cmd_datasets(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..config import DataConfig
    from ..data import sources

    if args.clear and not args.cache:
        raise GankitError("--clear goes with --cache: gankit datasets --cache --clear")
    if args.cache:
        return _clear_cache() if args.clear else _show_cache()
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


def _show_cache() -> int:
    """Print the decode cache: one row per entry, least recently used first, then the total against the cap."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..data.cache_size import cache_folder, cap_bytes, human_size
    from ..data.decode_cache import entries

    found, other = entries()
    where = f"decode cache {cache_folder()}"
    cap = f"{human_size(cap_bytes())} (GANKIT_CACHE_MAX_GB)"
    if not found and not other:
        print(f"{where}: empty; cap {cap}")
        return 0
    rows = [("folder", "settings", "pictures", "size", "last used")]
    for e in found:
        about = e.about or {}
        ok = about.get("ok")
        rows.append(
            (
                _printable(str(about.get("folder", "? (damaged: decoded again on its next load)"))),
                str(about.get("settings", "?")),
                f"{ok.count(True):,}" if isinstance(ok, list) else "?",
                human_size(e.size),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(e.used)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"{where}:")
    for r in rows:
        print(
            f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:>{widths[3]}}  {r[4]}"
        )
    unfinished = (
        f" ({human_size(other)} in files of no entry: decodes under way or cut short, an older format)"
        if other
        else ""
    )
    print(f"total {human_size(sum(e.size for e in found) + other)}{unfinished}; cap {cap}")
    return 0


def _clear_cache() -> int:
    """Remove every entry of the decode cache and say how much was freed."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..data.cache_size import cache_folder, clear, human_size

    n, freed = clear()
    print(
        f"removed {n} {'entry' if n == 1 else 'entries'} ({human_size(freed)}) from {cache_folder()}"
    )
    return 0


def _printable(text: str) -> str:
    """``text`` printable as UTF-8: the bytes of a name that is not UTF-8 as ``\\xe9`` escapes."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config", nargs="?", default=None, help="preset name or CONFIG.yaml (default: quickstart)"
    )
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--keys",
        action="store_true",
        help="print every config key with its type, default, allowed values and meaning (Markdown); with a "
        "config or --set, the keys of the training tricks it names too",
    )


def cmd_config(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..config import load_config, to_yaml

    if args.keys:
        # start-up: the command line imports torch and the library only when it needs them
        from ..config_doc import keys_markdown

        given = args.config is not None or args.overrides
        sys.stdout.write(keys_markdown(load_config(args.config, args.overrides) if given else None))
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
    "list data sources, whether each is present, where and its size; --cache: the decoded folders",
    dataset_arguments,
    cmd_datasets,
)
CONFIG = Command("config", "print a preset's resolved config as YAML", config_arguments, cmd_config)
