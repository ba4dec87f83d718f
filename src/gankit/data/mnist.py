"""MNIST and Fashion-MNIST from the four standard IDX files (raw or ``.gz``).

Splits (docs/design.md, 'The paper's protocol'): MNIST exactly as Goodfellow et al. (2014) and their code
(goodfeli/adversarial): ``train`` = train[0:50000], ``validation`` = train[50000:60000], ``test`` = the 10,000 t10k
images.
Fashion-MNIST (Xiao et al., 2017) uses the same 50,000 / 10,000 / 10,000 split of its 60,000 + 10,000 files.
Images are uint8 [N, 1, H, W] (28×28 in the official files), 0..255; labels int64 [N] in 0..9.

Look-up: for each root of :func:`~gankit.data.base.search_roots` (``data.data_dir``, ``$GANKIT_DATA``, the user
cache, then Debian's ``/usr/share/datasets/fashion-mnist`` for Fashion-MNIST), first ``ROOT/<name>/`` and then
``ROOT/`` itself; the first folder holding all four files wins. Because both datasets use the same file names,
keep them in ``ROOT/mnist/`` and ``ROOT/fashion-mnist/`` rather than directly in a root. With ``data.download``
the official ``.gz`` files are fetched into ``<cache>/<name>/`` and checked against the SHA-256 below. (Debian's
files are the official data but recompressed: they are read, never hash-checked.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split, cache_dir, search_roots
from .download import fetch
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_header, read_images, read_labels
from .registry import register

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
N_TRAIN, N_VALID, N_TEST = 50_000, 10_000, 10_000
NUM_CLASSES = 10

# Base URLs of the official files (the MNIST one is PyTorch's mirror of yann.lecun.com/exdb/mnist).
URLS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
# SHA-256 of each official .gz file.
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}
EXTRA_ROOTS: dict[str, tuple[str, ...]] = {
    "mnist": (),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
}


def _file_in(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` (raw, preferred: no decompression) or ``folder/stem.gz``, whichever exists."""
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def candidate_folders(cfg: DataConfig, name: str) -> list[Path]:
    """Folders looked in, in order: ``ROOT/<name>/`` then ``ROOT/`` for each search root."""
    folders: list[Path] = []
    for root in search_roots(cfg.data_dir, EXTRA_ROOTS[name]):
        for folder in (root / name, root):
            if folder not in folders:
                folders.append(folder)
    return folders


def find_files(cfg: DataConfig, name: str) -> dict[str, Path] | None:
    """The four files (by stem) from the first folder holding all of them, or None."""
    for folder in candidate_folders(cfg, name):
        found = {stem: _file_in(folder, stem) for stem in FILES}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def _missing_message(cfg: DataConfig, name: str) -> str:
    folders = candidate_folders(cfg, name)
    looked = ", ".join(str(f) for f in folders)
    return (
        f"dataset {name} not found: looked for {', '.join(FILES)} (.gz or raw) in {looked}; pass --download "
        f"(data.download=true) to fetch the official files into {cache_dir() / name}, or put the four files "
        f"in {folders[0]}"
    )


def download(name: str) -> dict[str, Path]:
    """Fetch whichever official files are missing from ``<cache>/<name>/`` (SHA-256 checked); returns the four."""
    folder = cache_dir() / name
    for stem in FILES:
        if _file_in(folder, stem) is None:
            fetch(URLS[name] + f"{stem}.gz", folder / f"{stem}.gz", SHA256[name][f"{stem}.gz"])
    return {stem: _file_in(folder, stem) for stem in FILES}  # type: ignore[misc]


def _pair(images_path: Path, labels_path: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = read_images(images_path), read_labels(labels_path)
    if len(images) != n:
        raise DatasetError(f"{images_path}: holds {len(images):,} images, expected {n:,}")
    if len(labels) != len(images):
        raise DatasetError(
            f"{labels_path}: holds {len(labels):,} labels but {images_path.name} "
            f"holds {len(images):,} images"
        )
    if labels.size and int(labels.max()) >= NUM_CLASSES:
        raise DatasetError(
            f"{labels_path}: label {int(labels.max())} out of range 0..{NUM_CLASSES - 1}"
        )
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def paper_splits(
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    n_valid: int = N_VALID,
) -> dict[str, Split]:
    """train = the first ``len - n_valid`` training images, validation = the last ``n_valid``; test as given.

    With the official 60,000 this is exactly train[0:50000] / train[50000:60000] (Goodfellow et al., 2014).
    """
    cut = len(x_train) - n_valid
    return {
        "train": Split(x_train[:cut], y_train[:cut]),
        "validation": Split(x_train[cut:], y_train[cut:]),
        "test": Split(x_test, y_test),
    }


def _load(cfg: DataConfig, name: str) -> Dataset:
    files = find_files(cfg, name)
    if files is None:
        if not cfg.download:
            raise DatasetError(_missing_message(cfg, name))
        files = download(name)
    x_train, y_train = _pair(files[FILES[0]], files[FILES[1]], N_TRAIN + N_VALID)
    x_test, y_test = _pair(files[FILES[2]], files[FILES[3]], N_TEST)
    return Dataset(
        name,
        "image",
        paper_splits(x_train, y_train, x_test, y_test),
        source=str(files[FILES[0]].parent),
        num_classes=NUM_CLASSES,
    )


def _locate(cfg: DataConfig, name: str) -> SourceStatus:
    files = find_files(cfg, name)
    if files is None:
        looked = ", ".join(str(f) for f in candidate_folders(cfg, name))
        return SourceStatus(False, f"looked in {looked}")
    try:
        n, h, w = read_header(files[FILES[0]], IMAGES_MAGIC)
        (n_test,) = read_header(files[FILES[3]], LABELS_MAGIC)
    except DatasetError as e:
        return SourceStatus(True, str(files[FILES[0]].parent), f"unreadable: {e}")
    size = f"{n - N_VALID:,} train + {N_VALID:,} validation + {n_test:,} test images 1×{h}×{w}"
    return SourceStatus(True, str(files[FILES[0]].parent), size)


@register(
    "mnist",
    "MNIST digits, paper split 50k/10k/10k (IDX files; --download)",
    locate=lambda cfg, path: _locate(cfg, "mnist"),
)
def load_mnist(cfg: DataConfig, path: str) -> Dataset:
    """MNIST: uint8 [N, 1, 28, 28]; train 50,000, validation 10,000, test 10,000; labels 0..9."""
    return _load(cfg, "mnist")


@register(
    "fashion-mnist",
    "Fashion-MNIST, split 50k/10k/10k like MNIST (IDX files; --download)",
    locate=lambda cfg, path: _locate(cfg, "fashion-mnist"),
)
def load_fashion_mnist(cfg: DataConfig, path: str) -> Dataset:
    """Fashion-MNIST: uint8 [N, 1, 28, 28]; train 50,000, validation 10,000, test 10,000; labels 0..9."""
    return _load(cfg, "fashion-mnist")
