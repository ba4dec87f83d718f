"""CIFAR-10 (Krizhevsky, 2009) from the official *binary* distribution; nothing is ever unpickled.

``cifar-10-binary.tar.gz`` holds ``cifar-10-batches-bin/data_batch_1.bin`` … ``data_batch_5.bin`` and
``test_batch.bin``: each a run of 3,073-byte records, one label byte (0..9) then 3,072 pixel bytes, the 1,024 red,
1,024 green and 1,024 blue values of a 32×32 image in row-major order, i.e. already [3, 32, 32].

Splits: ``train`` = all 50,000 images of the five data batches, ``test`` = the 10,000 of the test batch; there is
no validation split. Images uint8 [N, 3, 32, 32] 0..255, labels int64 [N] 0..9.

Look-up: for each root of :func:`~gankit.data.base.search_roots`, in ``ROOT/cifar10/`` then ``ROOT/``: the
extracted folder ``cifar-10-batches-bin/``, the six ``.bin`` files themselves, or the archive (read in one pass with
:mod:`tarfile`, members taken by exact name, nothing extracted to disk). With ``data.download`` the archive is
fetched into ``<cache>/cifar10/`` and checked against its SHA-256.
"""

from __future__ import annotations

import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split, cache_dir, search_roots
from .download import fetch
from .registry import register

NAME = "cifar10"
ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
TRAIN_BATCHES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_BATCH = "test_batch.bin"
RECORD = 1 + 3 * 32 * 32
NUM_CLASSES = 10
# records in each official batch file; bounds what an archive header can make us read
MAX_BATCH = 10_000

URLS: dict[str, str] = {ARCHIVE: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"}
SHA256: dict[str, str] = {
    ARCHIVE: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
}


def candidate_folders(cfg: DataConfig) -> list[Path]:
    """Folders looked in, in order: ``ROOT/cifar10/`` then ``ROOT/`` for each search root."""
    folders: list[Path] = []
    for root in search_roots(cfg.data_dir):
        for folder in (root / NAME, root):
            if folder not in folders:
                folders.append(folder)
    return folders


def find(cfg: DataConfig) -> Path | None:
    """The first extracted batch folder or archive found, or None."""
    names = TRAIN_BATCHES + (TEST_BATCH,)
    for folder in candidate_folders(cfg):
        for batches in (folder / FOLDER, folder):
            if all((batches / n).is_file() for n in names):
                return batches
        if (folder / ARCHIVE).is_file():
            return folder / ARCHIVE
    return None


def parse_records(data: bytes | bytearray, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Records → (uint8 [N, 3, 32, 32], int64 [N]); the byte count must be a positive multiple of 3,073."""
    if len(data) == 0 or len(data) % RECORD:
        raise DatasetError(
            f"{where}: {len(data):,} bytes is not a whole number of {RECORD}-byte CIFAR-10 records"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if int(labels.max()) >= NUM_CLASSES:
        raise DatasetError(f"{where}: label {int(labels.max())} out of range 0..{NUM_CLASSES - 1}")
    images = np.ascontiguousarray(records[:, 1:]).reshape(-1, 3, 32, 32)
    return torch.from_numpy(images), torch.from_numpy(labels)


def _read_folder(folder: Path) -> dict[str, bytes]:
    out = {}
    for name in TRAIN_BATCHES + (TEST_BATCH,):
        path = folder / name
        size = path.stat().st_size
        if size == 0 or size % RECORD:
            raise DatasetError(
                f"{path}: {size:,} bytes is not a whole number of {RECORD}-byte CIFAR-10 records"
            )
        out[name] = path.read_bytes()
    return out


def _read_archive(archive: Path) -> dict[str, bytes]:
    wanted = {f"{FOLDER}/{n}": n for n in TRAIN_BATCHES + (TEST_BATCH,)}
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:  # one sequential pass: no backward seeks through the gzip stream
                name = wanted.get(member.name.removeprefix("./"))
                if name is None:
                    continue
                if not member.isfile():
                    raise DatasetError(f"{archive}: member {member.name} is not a regular file")
                if member.size == 0 or member.size % RECORD or member.size > MAX_BATCH * RECORD:
                    raise DatasetError(
                        f"{archive}: member {member.name} declares {member.size:,} bytes, not a "
                        f"whole number of {RECORD}-byte records up to {MAX_BATCH:,} records"
                    )
                stream = tar.extractfile(member)
                assert stream is not None
                data = stream.read()
                if len(data) != member.size:
                    raise DatasetError(f"{archive}: member {member.name} is truncated")
                out[name] = data
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"{archive}: cannot read the CIFAR-10 archive: {e}") from None
    missing = [n for n in wanted.values() if n not in out]
    if missing:
        raise DatasetError(
            f"{archive}: archive lacks {', '.join(f'{FOLDER}/{n}' for n in missing)}"
        )
    return out


def _missing_message(cfg: DataConfig) -> str:
    folders = candidate_folders(cfg)
    looked = ", ".join(str(f) for f in folders)
    return (
        f"dataset {NAME} not found: looked for {FOLDER}/ or {ARCHIVE} in {looked}; pass --download "
        f"(data.download=true) to fetch {ARCHIVE} into {cache_dir() / NAME}, or put it in {folders[0]}"
    )


@register(
    NAME,
    "CIFAR-10, 50k train / 10k test, 3×32×32 (official binary archive; --download)",
    locate=lambda cfg, path: locate_cifar10(cfg),
)
def load_cifar10(cfg: DataConfig, path: str) -> Dataset:
    """CIFAR-10: train uint8 [50000, 3, 32, 32], test [10000, 3, 32, 32]; labels int64 0..9."""
    where = find(cfg)
    if where is None:
        if not cfg.download:
            raise DatasetError(_missing_message(cfg))
        where = fetch(URLS[ARCHIVE], cache_dir() / NAME / ARCHIVE, SHA256[ARCHIVE])
    batches = _read_archive(where) if where.is_file() else _read_folder(where)
    parts = [parse_records(batches[n], f"{where}/{n}") for n in TRAIN_BATCHES]
    x_test, y_test = parse_records(batches[TEST_BATCH], f"{where}/{TEST_BATCH}")
    splits = {
        "train": Split(torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])),
        "test": Split(x_test, y_test),
    }
    return Dataset(NAME, "image", splits, source=str(where), num_classes=NUM_CLASSES)


def locate_cifar10(cfg: DataConfig) -> SourceStatus:
    """Where CIFAR-10 is; image counts from the batch file sizes (the archive is not opened)."""
    where = find(cfg)
    if where is None:
        return SourceStatus(False, "looked in " + ", ".join(str(f) for f in candidate_folders(cfg)))
    if where.is_file():
        return SourceStatus(True, str(where), f"archive, {where.stat().st_size / 2**20:.0f} MiB")
    n_train = sum((where / n).stat().st_size for n in TRAIN_BATCHES) // RECORD
    n_test = (where / TEST_BATCH).stat().st_size // RECORD
    return SourceStatus(True, str(where), f"{n_train:,} train + {n_test:,} test images 3×32×32")
