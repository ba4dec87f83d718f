"""points:PATH edge cases beyond tests/test_data_sources.py: damaged .npy headers, odd dtypes, bad bytes, size cap.

Each must be a one-line DatasetError naming the file, never another exception or a large allocation.
"""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest

from gankit.config import DataConfig
from gankit.data import load_dataset, points
from gankit.errors import DatasetError


def npy(shape: tuple, descr: str = "<f8", body: bytes = b"") -> bytes:
    """A .npy header declaring ``shape`` and ``descr``, followed by ``body`` (not necessarily that much data)."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue() + body


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("zero-bytes.npy", b"", "cannot read .npy points"),
        (
            "truncated.npy",
            npy((100, 2), body=b"\0" * 16),
            r"declares shape \[100, 2\] \(1,600 bytes",
        ),
        ("huge-header.npy", npy((10**11,), body=b"\0" * 16), r"declares shape \[100000000000\]"),
        ("bool.npy", npy((2,), "|b1", b"\1\0"), "integer or float array, got bool"),
        ("complex.npy", npy((1,), "<c16", b"\0" * 16), "integer or float array, got complex128"),
        ("latin1.csv", b"1,2\n\xe9,3\n", "cannot read points file"),
        ("overflow32.csv", b"1e300,1\n", r"row 0 .*too large for float32"),
        ("overflow64.csv", b"1,2\n1e999,1\n", "line 2, column 1: '1e999' is not a finite number"),
        ("trailing-comma.csv", b"1,2\n3,4,\n", "line 2, column 3: '' is not a number"),
    ],
)
def test_points_rejected(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content)
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match=match) as e:
            load_dataset(DataConfig(name=f"points:{path}"))
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert name in str(e.value) and "\n" not in str(e.value)
    # huge-header.npy once tried to allocate 745 GiB
    assert peak < 20 * 2**20, f"allocated {peak:,} bytes"


@pytest.mark.parametrize("name", ["big.csv", "big.npy"])
def test_points_file_size_cap(tmp_path, monkeypatch, name):
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text("1,2\n" * 100)
    else:
        np.save(path, np.zeros((100, 2)))
    assert len(load_dataset(DataConfig(name=f"points:{path}")).train) == 100
    monkeypatch.setattr(points, "MAX_BYTES", 200)
    with pytest.raises(
        DatasetError, match=r"the file is [\d,]+ bytes; points:PATH reads at most 200 bytes"
    ) as e:
        load_dataset(DataConfig(name=f"points:{path}"))
    assert name in str(e.value) and "\n" not in str(e.value)
