"""`gankit eval --compare A.json B.json …`: the figures of several eval.json files side by side, printed only where
their protocol stamps agree (gankit.evaluation.protocol)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..errors import MetricError, first_line
from .protocol import describe, differences

MAX_BYTES = 64 * 2**20  # far above any eval.json gankit writes
MAX_DEPTH = 8  # how deeply a protocol stamp may nest objects and lists (gankit's nest two levels)
_KINDS = {type(None): "null", bool: "a boolean", str: "a string", list: "a list", dict: "an object"}


def _load(path: str | Path) -> Any:
    """The file's JSON; a one-line MetricError naming the file when it cannot be read or parsed."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise MetricError(f"--compare {path}: cannot read it ({e.strerror})") from None
    if len(data) > MAX_BYTES:
        raise MetricError(f"--compare {path}: larger than {MAX_BYTES} bytes, not an eval.json")
    try:
        return json.loads(data)
    except RecursionError:
        raise MetricError(f"--compare {path}: nested too deeply to be an eval.json") from None
    except ValueError as e:
        raise MetricError(f"--compare {path}: not JSON ({first_line(e)})") from None


def read_rows(path: str | Path) -> dict[str, dict[str, Any]]:
    """The rows of an eval.json by metric (the file's newest row of each), their fields checked."""
    data = _load(path)
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise MetricError(f"--compare {path}: not an eval.json (no list of rows with metrics)")
    found = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not isinstance(row.get("metric"), str):
            raise MetricError(f"--compare {path}: rows[{i}] is not a row with a metric name")
        found[row["metric"]] = _checked(path, f"rows[{i}]", row)
    return found


def _checked(path: str | Path, where: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its value and uncertainty as floats; a one-line MetricError naming the bad field otherwise."""
    value = _float(path, f"{where}.value", row.get("value"))
    uncertainty = row.get("uncertainty")
    if uncertainty is not None:
        uncertainty = _float(path, f"{where}.uncertainty", uncertainty)
    _check_stamp(path, f"{where}.protocol", row.get("protocol"))
    return {**row, "value": value, "uncertainty": uncertainty}


def _float(path: str | Path, field: str, value: Any) -> float:
    """``value``, a JSON number, as a float; a one-line MetricError naming ``field`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = _KINDS.get(type(value), type(value).__name__)
        raise MetricError(f"--compare {path}: {field} is {kind}, not a number")
    try:
        return float(value)
    except OverflowError:
        raise MetricError(
            f"--compare {path}: {field} is an integer of {len(str(value))} digits, too large for a float"
        ) from None


def _check_stamp(path: str | Path, field: str, stamp: Any) -> None:
    """A protocol stamp is absent (null) or an object nesting at most MAX_DEPTH deep whose ``reference``, if
    any, has a name, n and sha256."""
    if stamp is None:
        return
    if not isinstance(stamp, dict):
        kind = _KINDS.get(type(stamp), type(stamp).__name__)
        raise MetricError(f"--compare {path}: {field} is {kind}, not an object")
    if _depth(stamp) > MAX_DEPTH:
        raise MetricError(f"--compare {path}: {field} nests more than {MAX_DEPTH} deep")
    ref = stamp.get("reference")
    if ref is not None and not (isinstance(ref, dict) and {"name", "n", "sha256"} <= ref.keys()):
        raise MetricError(
            f"--compare {path}: {field}.reference is not an object with name, n and sha256"
        )


def _depth(value: Any) -> int:
    """How deeply ``value`` nests objects and lists, found without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return deepest


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


def _fixed(x: float, sign: str = "") -> str:
    """``x`` in at most 12 characters: 4 decimals, or 5 significant digits with an exponent outside
    [1e-4, 1e6)."""
    if x != 0 and math.isfinite(x) and not 1e-4 <= abs(x) < 1e6:
        return f"{x:{sign}.4e}"
    return f"{x:{sign}.4f}"


def _value(row: dict[str, Any]) -> str:
    text = _fixed(row["value"])
    return text + (f" ± {_fixed(row['uncertainty'])}" if row["uncertainty"] is not None else "")


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
            line += f" {_fixed(rows[1]['value'] - rows[0]['value'], '+'):>12}"
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
