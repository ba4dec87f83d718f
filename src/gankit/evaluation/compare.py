"""`gankit eval --compare A.json B.json …`: the figures of several eval.json files side by side, printed only where
their protocol stamps agree (gankit.evaluation.protocol)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import MetricError
from .protocol import describe, differences


def read_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The rows of an eval.json by metric (the file's newest row of each)."""
    try:
        rows = json.loads(Path(path).read_text())["rows"]
        found = {str(r["metric"]): r for r in rows}
    except OSError as e:
        raise MetricError(f"--compare {path}: cannot read it ({e.strerror})") from None
    except (ValueError, KeyError, TypeError):
        raise MetricError(
            f"--compare {path}: not an eval.json (no list of rows with metrics)"
        ) from None
    return found


def _mismatch(metric: str, names: list[str], rows: list[dict[str, Any]]) -> str | None:
    """Why the rows of ``metric`` cannot be compared (the first file whose stamp differs from the first's)."""
    stamps = [r.get("protocol") for r in rows]
    for name, stamp in zip(names, stamps):
        if not stamp:
            return f"{metric}: {name} has no protocol stamp (computed by an earlier gankit)"
    for name, stamp in zip(names[1:], stamps[1:]):
        fields = differences(stamps[0], stamp)
        if fields:
            shown = ", ".join(
                f"{f} ({_field(stamps[0], f)} vs {_field(stamp, f)})" for f in fields[:3]
            )
            more = f" and {len(fields) - 3} more" if len(fields) > 3 else ""
            return f"{metric}: the protocols of {names[0]} and {name} differ in {shown}{more}"
    return None


def _field(stamp: dict[str, Any], dotted: str) -> Any:
    value: Any = stamp
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value[:12] if isinstance(value, str) and dotted.endswith("sha256") else value


def _value(row: dict[str, Any]) -> str:
    text = f"{row['value']:.4f}"
    return text + (f" ± {row['uncertainty']:.4f}" if row.get("uncertainty") is not None else "")


def compare(paths: list[str]) -> tuple[str, list[str]]:
    """(a table of every metric the files share — one column per file, and B − A when there are two —, the
    mismatches: one line per metric whose protocols differ)."""
    if len(paths) < 2:
        raise MetricError("--compare needs two or more eval.json files")
    files = [read_rows(p) for p in paths]
    shared = [m for m in files[0] if all(m in f for f in files[1:])]
    if not shared:
        raise MetricError(f"--compare: {', '.join(paths)} have no metric in common")
    names = [Path(p).name if len({Path(q).name for q in paths}) == len(paths) else p for p in paths]
    width = max(22, *(len(n) for n in names))
    head = f"{'metric':<16}" + "".join(f" {n:>{width}}" for n in names)
    lines = [head + (f" {'B − A':>12}" if len(paths) == 2 else "")]
    mismatches = []
    for metric in shared:
        rows = [f[metric] for f in files]
        why = _mismatch(metric, names, rows)
        if why:
            mismatches.append(why)
        line = f"{metric:<16}" + "".join(f" {_value(r):>{width}}" for r in rows)
        if len(paths) == 2:
            line += f" {rows[1]['value'] - rows[0]['value']:>+12.4f}"
        lines.append(line)
    stamps = {describe(files[0][m].get("protocol")): None for m in shared}
    return "\n".join(lines + [f"protocol: {s}" for s in stamps]), mismatches


def compare_files(paths: list[str], force: bool = False) -> str:
    """The comparison table; a one-line MetricError naming the first differing protocol field unless ``force``
    (the table then ends with a note per mismatch)."""
    table, mismatches = compare(paths)
    if mismatches and not force:
        raise MetricError(
            f"not comparable: {mismatches[0]}; --force prints the table anyway"
            + (f" ({len(mismatches) - 1} more metric(s) differ)" if len(mismatches) > 1 else "")
        )
    return table + "".join(f"\nwarning: not comparable: {m}" for m in mismatches)
