"""Checkpoints: tensors in ``.safetensors``, everything else in JSON beside it (docs/design.md, 'Checkpoints').
No pickle.

Layout in ``RUN/checkpoints/``: ``step-000001000.safetensors`` + ``step-000001000.json`` per checkpoint and a
``latest`` file naming the newest. Each file is written to a temporary name, fsynced and ``os.replace``d; the JSON
(which carries the SHA-256 of the tensor file, and the SHA-256 of its own canonical content, which includes the
first) is written after the tensors and ``latest`` last, so a crash at any moment leaves the previous checkpoint
intact. A checkpoint holds only finite numbers: one with NaN or Inf is refused when written and when read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .. import __version__
from ..errors import CheckpointError
from ..fileio import write_atomic

log = logging.getLogger(__name__)

FORMAT = "gankit-checkpoint"
FORMAT_VERSION = 2  # 2: the JSON carries meta_sha256
_NAME = re.compile(r"^step-(\d{9,})$")


@dataclass
class Checkpoint:
    """``tensors``: flat name → tensor (CPU); ``meta``: JSON-able dict (step, nimg, config, ...)."""

    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    name: str = ""


BEST = "best"  # the sub-folder (and ``which``) of the best checkpoint by the tracked metric


def step_name(step: int) -> str:
    """``step-NNNNNNNNN``: how checkpoints, sample pictures and snapshots of ``step`` are named."""
    return f"step-{step:09d}"


def step_of(name: str) -> int:
    """The step a :func:`step_name` stands for (the inverse; a file's stem)."""
    return int(name.rsplit("-", 1)[-1])


def part(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors named ``prefix...`` (e.g. ``G.``: a module's state dict), with the prefix taken off."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def list_checkpoints(folder: Path) -> list[str]:
    """Names of complete checkpoints (JSON present), oldest first."""
    if not folder.is_dir():
        return []
    names = [p.stem for p in folder.glob("step-*.json") if _NAME.match(p.stem)]
    return sorted(names, key=lambda n: int(_NAME.match(n).group(1)))


def canonical_digest(meta: dict[str, Any]) -> str:
    """SHA-256 of ``meta`` as canonical JSON (sorted keys, no spaces, ASCII), its ``meta_sha256`` entry left out.
    ``meta`` holds the tensors' SHA-256, so this one digest covers the whole checkpoint."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


def nonfinite(tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> list[str]:
    """Names of the floating-point tensors holding NaN or Inf, and of the non-finite numbers in ``meta`` (nested
    keys joined by dots): what a checkpoint must not contain."""
    bad = [
        k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    return bad + _nonfinite_numbers(meta or {}, "")


def _nonfinite_numbers(value: Any, where: str) -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [where]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    return [
        bad
        for key, item in items
        for bad in _nonfinite_numbers(item, f"{where}.{key}" if where else str(key))
    ]


def save(
    folder: Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int
) -> str:
    """Write checkpoint ``step`` atomically, point ``latest`` at it, keep the newest ``keep``; returns its name.
    A non-finite number anywhere is a CheckpointError and nothing is written (the trainer checks first)."""
    bad = nonfinite(tensors, meta)
    if bad:
        raise CheckpointError(
            f"checkpoint {step_name(step)} not written: non-finite values in {_few(bad)}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    name = step_name(step)
    blob = st_save({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()})
    write_atomic(folder / f"{name}.safetensors", blob)
    # as it will read back
    meta = json.loads(
        json.dumps(
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "gankit_version": __version__,
                **meta,
                "tensors": f"{name}.safetensors",
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        )
    )
    meta["meta_sha256"] = canonical_digest(meta)
    write_atomic(folder / f"{name}.json", json.dumps(meta, indent=1, sort_keys=True).encode())
    write_atomic(folder / "latest", (name + "\n").encode())
    for old in list_checkpoints(folder)[:-keep]:
        (folder / f"{old}.json").unlink(missing_ok=True)
        (folder / f"{old}.safetensors").unlink(missing_ok=True)
    return name


def _few(names: list[str], n: int = 3) -> str:
    """``a, b, c and 7 more``: a list of names cut for a one-line message."""
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def _name_of(folder: Path, which: str | int) -> str:
    """The ``step-…`` name that ``which`` (``"latest"``, a step number or a name) stands for in ``folder``."""
    if which == "latest":
        pointer = folder / "latest"
        if not pointer.is_file():
            raise CheckpointError(f"no checkpoint in {folder} (no 'latest' file)")
        try:
            name = pointer.read_text().strip()
        except (OSError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{pointer} is unreadable ({type(e).__name__})") from None
    elif isinstance(which, int) or str(which).isdigit():
        name = step_name(int(which))
    else:
        name = str(which)
    if not _NAME.match(name):
        raise CheckpointError(f"{folder}/latest names {name!r}, which is not a checkpoint name")
    return name


def load(folder: Path, which: str | int = "latest") -> Checkpoint:
    """Read checkpoint ``which`` (``"latest"``, a step number, a ``step-…`` name, or ``"best"``: the one kept in
    ``folder/best`` by quality tracking) and verify it: the JSON against
    its own SHA-256, the tensors against theirs, and every number finite. Any failure is a one-line
    CheckpointError."""
    folder = Path(folder)
    if which == BEST:
        folder = folder / BEST
        if not (folder / "latest").is_file():
            raise CheckpointError(
                f"no best checkpoint in {folder.parent} (one is kept by training with "
                f"train.eval_every_kimg set)"
            )
        which = "latest"
    name = _name_of(folder, which)
    meta_path = folder / f"{name}.json"
    meta = _read_meta(meta_path)
    if meta.get("tensors") != f"{name}.safetensors" or not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{meta_path} names another tensor file or lacks its SHA-256")
    blob_path = folder / meta["tensors"]
    try:
        blob = blob_path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {blob_path}: {e.strerror}") from None
    if hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise CheckpointError(
            f"{blob_path} does not match the SHA-256 recorded in {meta_path.name} (corrupt)"
        )
    try:
        tensors = st_load(blob)
    except Exception as e:  # noqa: BLE001 -- safetensors raises its own error types on malformed files
        raise CheckpointError(
            f"{blob_path} is not a valid safetensors file ({type(e).__name__})"
        ) from None
    bad = nonfinite(tensors, meta)
    if bad:
        raise CheckpointError(f"{blob_path} holds non-finite values (in {_few(bad)})")
    return Checkpoint(tensors, meta, name)


def _read_meta(meta_path: Path) -> dict[str, Any]:
    """The JSON of a checkpoint, checked: a gankit checkpoint of this format whose content matches its
    ``meta_sha256`` (an edited or bit-flipped JSON does not). A format-1 JSON, which has no such checksum, is read
    with a warning."""
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        have = ", ".join(list_checkpoints(meta_path.parent)) or "none"
        raise CheckpointError(f"checkpoint {meta_path} does not exist; present: {have}") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint {meta_path} is unreadable: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path} is not a gankit checkpoint")
    if (
        meta.get("format_version") == 1 and "meta_sha256" not in meta
    ):  # written before the JSON had a checksum
        log.warning(
            "%s predates checkpoint format %d: its tensors are verified, its counters and config cannot be",
            meta_path,
            FORMAT_VERSION,
        )
        return meta
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path} is a gankit checkpoint of format version {meta.get('format_version')}; "
            f"this gankit ({__version__}) reads versions 1 and {FORMAT_VERSION}"
        )
    try:
        intact = meta.get("meta_sha256") == canonical_digest(meta)
    except ValueError:  # a non-finite number: canonical JSON has none
        intact = False
    if not intact:
        raise CheckpointError(
            f"{meta_path} does not match its own SHA-256 (meta_sha256): edited or corrupt"
        )
    return meta


def present(folder: Path) -> list[str]:
    """Names of every checkpoint with a file in ``folder`` (its JSON, its tensors or both), oldest first."""
    stems = (
        {p.name.split(".", 1)[0] for p in Path(folder).glob("step-*.*")}
        if Path(folder).is_dir()
        else set()
    )
    return sorted((n for n in stems if _NAME.match(n)), key=step_of)


def load_latest_good(folder: Path) -> Checkpoint | None:
    """The newest checkpoint that reads and verifies (:func:`load`): ``latest`` first, then the others, newest
    first; each one skipped is logged as a warning. None when the folder holds no checkpoint at all; a
    CheckpointError naming each one's damage when it holds checkpoints but none is readable. Resuming, rolling
    back and sampling all decide with this one function."""
    folder = Path(folder)
    candidates = list(reversed(present(folder)))
    try:
        pointed = (folder / "latest").read_text().strip()
    except (OSError, UnicodeDecodeError):
        pointed = None
    if pointed in candidates:
        candidates.remove(pointed)
        candidates.insert(0, pointed)
    damage = []
    for name in candidates:
        try:
            return load(folder, name)
        except CheckpointError as e:
            log.warning("skipping checkpoint %s: %s", name, e)
            damage.append(f"{name}: {e}")
    if damage:
        raise CheckpointError(
            f"{folder} holds {len(damage)} checkpoint(s) and none is readable ({'; '.join(damage)})"
        )
    return None
