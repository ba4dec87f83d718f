"""``folder:PATH``: every image under a folder, recursively, as uint8 [N, C, R, R] (R = ``data.resolution``, 32
when null).

Files are chosen by extension (.png .jpg .jpeg .bmp .gif .webp, any case; hidden files and folders skipped) and
taken in sorted path order. Each is opened with Pillow and read as a person sees it (gankit.data.transforms.flatten:
EXIF orientation applied, transparency composited onto ``data.background``, 16-bit grey scaled ÷257 with its colour
key composited, palette and CMYK converted; a GIF gives its first frame), converted to ``data.channels`` (``gray`` →
C = 1, ``rgb`` → C = 3, the default) and brought to R×R by ``data.fit`` (``crop``: short side to R with Pillow's
antialiased bicubic filter, centre crop; ``pad``: long side to R on a ``data.background`` square). Unreadable,
corrupt or truncated files are skipped, counted (``Dataset.skipped``) and reported in one logged warning (the first
few named, with why); a folder with no readable image is a :class:`DatasetError`. Only regular files (or symlinks
to them) are opened: FIFOs, sockets, devices, broken symlinks (dangling or in a loop) and paths that are not UTF-8
are skipped and counted the same way, named with undecodable bytes escaped (``caf\\xe9.png``). A folder named like
a picture is a folder.
With ``data.strict``, the first such entry (in path order) is instead a :class:`DatasetError` naming it and why,
before anything is decoded; then the first unreadable file.
The decoded pictures are cached (``folders/`` in the user cache; gankit.data.decode_cache), one entry per folder and
read settings, keyed by the files' paths, sizes and modification times, checked by SHA-256 on every load and capped
in size (``GANKIT_CACHE_MAX_GB``), and read back memory-mapped: a folder larger than memory trains (training takes
a batch at a time from the map).

Labels: when the images sit in two or more immediate subfolders and none directly in PATH (``PATH/cat/…``,
``PATH/dog/…``), the sorted subfolder names are the classes 0, 1, …; otherwise there are no labels.
Splits: ``train`` only.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageColor

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split
from .decode_cache import decoded
from .registry import register
from .transforms import MODES, WHITE, fit_image

log = logging.getLogger(__name__)

EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"})
DEFAULT_RESOLUTION, DEFAULT_CHANNELS = 32, "rgb"
NAMED = 5  # skipped files named in the load's warning


def read_settings(cfg: DataConfig, resolution: int = DEFAULT_RESOLUTION) -> ReadSettings:
    """How pictures are read under ``cfg``: its channels, resolution (``resolution`` when null), fit and background."""
    return ReadSettings(
        MODES[cfg.channels or DEFAULT_CHANNELS],
        cfg.resolution or resolution,
        cfg.fit,
        ImageColor.getrgb(cfg.background)[:3],
    )


def list_images(root: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files under ``root`` by extension, recursively, hidden entries skipped, sorted: (the regular files
    to read, [(path, why)] of the rest: FIFOs, sockets, devices, broken symlinks, names that are not UTF-8)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            Path(folder, f)
            for f in files
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in EXTENSIONS
        )
    readable, odd = [], []
    for path in sorted(found):
        why = _not_a_picture_file(path)
        if why:
            odd.append((path, why))
        else:
            readable.append(path)
    return readable, odd


NOT_REGULAR = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


def _not_a_picture_file(path: Path) -> str | None:
    """Why ``path`` is not read (never opened: a FIFO would block), or None for a regular file (or a symlink to
    one) whose path is UTF-8 (messages, labels and run files name it)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        link = "broken symbolic link: " if os.path.islink(path) else ""
        return f"{link}{e.strerror or e}"
    if not stat.S_ISREG(mode):
        return f"{NOT_REGULAR.get(stat.S_IFMT(mode), 'a special file')}, not a regular file"
    try:
        str(path).encode()
    except UnicodeEncodeError:
        return "path is not UTF-8"
    return None


def _shown(path: Path | str) -> str:
    """``path`` printable in any UTF-8 message: bytes of a name that is not UTF-8 as ``\\xe9`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def class_labels(root: Path, paths: list[Path]) -> tuple[list[str], np.ndarray] | None:
    """(sorted class names, int64 [N] labels) from the first path component under ``root``, or None."""
    tops = [p.relative_to(root).parts for p in paths]
    if any(len(parts) < 2 for parts in tops):
        return None  # some images sit directly in root
    classes = sorted({parts[0] for parts in tops})
    if len(classes) < 2:
        return None
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[parts[0]] for parts in tops], dtype=np.int64)


@dataclasses.dataclass(frozen=True)
class ReadSettings:
    """How a picture is read: Pillow ``mode`` (L or RGB), ``resolution`` R, ``fit`` (crop or pad) and the
    ``background`` RGB that transparency is composited onto."""

    mode: str
    resolution: int
    fit: str = "crop"
    background: tuple[int, int, int] = WHITE


def load_image(path: Path, how: ReadSettings) -> np.ndarray:
    """One image file → uint8 [C, R, R] (gankit.data.transforms.fit_image)."""
    with Image.open(path) as im:
        # JPEG: decode at a reduced scale when much larger
        im.draft(how.mode, (how.resolution, how.resolution))
        im.load()  # forces the full decode: truncated data raises here
        return fit_image(im, how.resolution, how.mode, how.fit, how.background)


def _try_load(path: Path, how: ReadSettings) -> np.ndarray | str:
    try:
        return load_image(path, how)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 -- Pillow raises many types on corrupt data (OSError, SyntaxError, ...)
        return " ".join(f"{type(e).__name__}: {e}".split())  # one line


def decode_all(
    paths: list[Path], how: ReadSettings, strict: bool, name: str, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Decode every file: (uint8 [n, C, R, R] of the n pictures read, in path order, bool [N] read, [(path, why)]
    of those that could not be read); with ``strict`` the first unreadable file is a DatasetError instead.
    ``out`` (uint8 [N, C, R, R], e.g. a memory-mapped file) receives the pictures; else a new array does."""
    if out is None:
        out = np.empty(
            (len(paths), 1 if how.mode == "L" else 3, how.resolution, how.resolution),
            dtype=np.uint8,
        )
    ok = np.zeros(len(paths), dtype=bool)
    failures: list[tuple[str, str]] = []
    n = 0
    with ThreadPoolExecutor(
        max_workers=min(8, os.cpu_count() or 1)
    ) as pool:  # Pillow decodes without the GIL
        for i, result in enumerate(pool.map(lambda p: _try_load(p, how), paths)):
            if isinstance(result, str):
                if strict:
                    pool.shutdown(cancel_futures=True)
                    raise _refusal(name, paths[i], result)
                failures.append((str(paths[i]), result))
            else:
                out[n], ok[i] = result, True  # packed: the n pictures read come first
                n += 1
    return out[:n], ok, failures


def _refusal(name: str, path: Path, why: str) -> DatasetError:
    """data.strict's error for the first file of ``folder:name`` that cannot be read."""
    return DatasetError(
        f"folder:{name}: cannot read {_shown(path)} ({why}); "
        f"set data.strict=false to skip unreadable images"
    )


def _root(path: str) -> Path:
    return Path(path).expanduser()


@register(
    "folder",
    "every image in a folder (recursively), resized and centre-cropped; subfolders = classes",
    takes_path=True,
    locate=lambda cfg, path: locate_folder(cfg, path),
)
def load_folder(cfg: DataConfig, path: str) -> Dataset:
    """folder:PATH → train uint8 [N, C, R, R] (C = 1 gray / 3 rgb, R = data.resolution), labels if subfolders."""
    root = _root(path)
    if not root.is_dir():
        raise DatasetError(f"folder:{path}: no such folder {root}")
    paths, odd = list_images(root)
    if not paths and not odd:
        raise DatasetError(
            f"folder:{path}: no images (.png .jpg .jpeg .bmp .gif .webp) under {root}"
        )
    if odd and cfg.strict:  # before anything is decoded
        raise _refusal(path, *odd[0])
    x, ok, unread = _decoded(paths, read_settings(cfg), cfg.strict, path)
    skipped = sorted(odd + unread)
    if skipped:
        _warn_skipped(root, skipped, len(paths) + len(odd))
    if not ok.any():
        first, why = skipped[0]
        raise DatasetError(
            f"folder:{path}: none of the {len(paths) + len(odd)} image files could be read "
            f"(first: {_shown(first)}: {why})"
        )
    labelled = class_labels(root, paths)
    y = torch.from_numpy(labelled[1][ok]) if labelled else None
    return Dataset(
        "folder",
        "image",
        {"train": Split(torch.from_numpy(x), y)},
        source=str(root),
        num_classes=len(labelled[0]) if labelled else None,
        skipped=len(skipped),
    )


def _decoded(
    paths: list[Path], how: ReadSettings, strict: bool, name: str
) -> tuple[np.ndarray, np.ndarray, list[tuple[Path, str]]]:
    """:func:`decoded` of ``paths`` (uint8 [n, C, R, R], bool [N] read, [(path, why)] of the files not read, by
    this listing's paths); no paths: nothing read."""
    if not paths:
        return np.empty((0, 0, 0, 0), dtype=np.uint8), np.zeros(0, dtype=bool), []
    x, ok, failures = decoded(paths, how, strict, name, decode_all)
    unread = [p for p, read in zip(paths, ok) if not read]
    return x, ok, [(p, why) for p, (_, why) in zip(unread, failures)]


def _warn_skipped(root: Path, skipped: list[tuple[Path, str]], total: int) -> None:
    """The load's one warning: how many of ``total`` files were skipped, the first few named (under ``root``)."""
    named = "; ".join(f"{_shown(p.relative_to(root))}: {why}" for p, why in skipped[:NAMED])
    more = f"; and {len(skipped) - NAMED} more" if len(skipped) > NAMED else ""
    log.warning(
        "folder %s: skipped %d of %d images that could not be read (%s%s)",
        _shown(root),
        len(skipped),
        total,
        named,
        more,
    )


def locate_folder(cfg: DataConfig, path: str) -> SourceStatus:
    """Whether the folder exists and how many image files it holds (by extension; nothing is decoded)."""
    root = _root(path)
    if not root.is_dir():
        return SourceStatus(False, f"looked for folder {root}")
    paths, _ = list_images(root)
    how = read_settings(cfg)
    labelled = class_labels(root, paths)
    classes = f", {len(labelled[0])} classes" if labelled else ""
    return SourceStatus(
        len(paths) > 0,
        str(root),
        f"{len(paths):,} image files → {len(how.mode)}×{how.resolution}×{how.resolution}{classes}",
    )
