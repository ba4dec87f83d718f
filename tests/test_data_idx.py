"""IDX reader: round trips (raw and .gz) and strict validation of damaged headers and bodies."""

from __future__ import annotations

import gzip
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from gankit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_header, read_images, read_labels
from gankit.errors import DatasetError


def idx_bytes(
    arr: np.ndarray, *, magic: int | None = None, dims: tuple[int, ...] | None = None
) -> bytes:
    """IDX encoding of a uint8 array; ``magic``/``dims`` override the header (to build damaged files)."""
    dims = arr.shape if dims is None else dims
    magic = (0x0800 | len(dims)) if magic is None else magic
    return (
        struct.pack(">I", magic)
        + b"".join(struct.pack(">I", d) for d in dims)
        + arr.astype(np.uint8).tobytes()
    )


def write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=1) as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.fixture(params=["raw", "gz"])
def suffix(request) -> str:
    return "" if request.param == "raw" else ".gz"


def test_round_trip_images_and_labels(tmp_path, suffix):
    images = np.random.default_rng(0).integers(0, 256, (7, 3, 5), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    got_x = read_images(write(tmp_path / f"img{suffix}", idx_bytes(images)))
    got_y = read_labels(write(tmp_path / f"lab{suffix}", idx_bytes(labels)))
    assert got_x.dtype == np.uint8 and got_x.shape == (7, 3, 5)
    np.testing.assert_array_equal(got_x, images)
    np.testing.assert_array_equal(got_y, labels)
    assert got_x.flags.writeable  # torch.from_numpy needs no copy and gives no warning
    assert read_header(tmp_path / f"img{suffix}", IMAGES_MAGIC) == (7, 3, 5)


def test_bad_magic(tmp_path, suffix):
    path = write(tmp_path / f"x{suffix}", b"\x12\x34" + idx_bytes(np.zeros((2, 2, 2)))[2:])
    with pytest.raises(DatasetError, match="not an IDX file") as e:
        read_images(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_wrong_element_type(tmp_path, suffix):
    path = write(tmp_path / f"x{suffix}", idx_bytes(np.zeros((2, 2, 2)), magic=0x00000D03))
    with pytest.raises(DatasetError, match="element type 0x0d"):
        read_images(path)


def test_dimension_count_mismatch(tmp_path, suffix):
    labels = write(tmp_path / f"labels{suffix}", idx_bytes(np.zeros(4)))
    with pytest.raises(DatasetError, match="1 dimensions, expected 3"):
        read_images(labels)  # a labels file where images are expected
    images = write(tmp_path / f"images{suffix}", idx_bytes(np.zeros((2, 2, 2))))
    with pytest.raises(DatasetError, match="3 dimensions, expected 1"):
        read_labels(images)
    assert LABELS_MAGIC == 0x801 and IMAGES_MAGIC == 0x803


def test_truncated_data(tmp_path, suffix):
    path = write(tmp_path / f"x{suffix}", idx_bytes(np.zeros((4, 3, 3)))[:-5])
    with pytest.raises(DatasetError, match="truncated") as e:
        read_images(path)
    assert str(path) in str(e.value)


def test_truncated_header(tmp_path, suffix):
    path = write(tmp_path / f"x{suffix}", idx_bytes(np.zeros((4, 3, 3)))[:10])
    with pytest.raises(DatasetError, match="truncated"):
        read_images(path)


def test_trailing_bytes(tmp_path, suffix):
    path = write(tmp_path / f"x{suffix}", idx_bytes(np.zeros((4, 3, 3))) + b"\0\0\0")
    with pytest.raises(DatasetError, match="trailing bytes"):
        read_images(path)


def test_huge_declared_size_errors_before_allocating(tmp_path, suffix):
    # Header claims 10^6 × 10^3 × 10^3 = 10^12 bytes; the file holds 100.
    path = write(tmp_path / f"x{suffix}", idx_bytes(np.zeros(100), dims=(1_000_000, 1000, 1000)))
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="truncated"):
            read_images(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"allocated {peak} bytes for a 100-byte file"


def test_missing_file_is_dataset_error(tmp_path):
    with pytest.raises(DatasetError, match="cannot read"):
        read_images(tmp_path / "nope")


def test_corrupt_gzip_is_dataset_error(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + b"garbage" * 10)
    with pytest.raises(DatasetError, match=str(path).replace("\\", "\\\\")):
        read_images(path)
