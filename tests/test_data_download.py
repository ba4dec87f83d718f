"""fetch() and --download against a local HTTP server on 127.0.0.1 (nothing else is contacted)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import socket
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from gankit.config import DataConfig
from gankit.data import cifar, load_dataset, mnist
from gankit.data.download import fetch, sha256_file
from gankit.errors import DatasetError


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(folder served, base URL) of a threaded HTTP server on 127.0.0.1, port chosen by the OS."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_fetch_good_hash(server, tmp_path):
    served, base = server
    payload = bytes(range(256)) * 5000
    (served / "blob.bin").write_bytes(payload)
    dest = tmp_path / "cache" / "x" / "blob.bin"
    assert fetch(base + "blob.bin", dest, _sha(payload)) == dest
    assert dest.read_bytes() == payload and sha256_file(dest) == _sha(payload)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin"]  # no temp file left


def test_fetch_bad_hash_leaves_nothing(server, tmp_path):
    served, base = server
    (served / "blob.bin").write_bytes(b"tampered")
    dest = tmp_path / "dl" / "blob.bin"
    wrong = "0" * 64
    with pytest.raises(DatasetError) as e:
        fetch(base + "blob.bin", dest, wrong)
    msg = str(e.value)
    assert "blob.bin" in msg and wrong in msg and _sha(b"tampered") in msg and "\n" not in msg
    assert list(dest.parent.iterdir()) == []


def test_fetch_http_error_is_one_line(server, tmp_path):
    _, base = server
    with pytest.raises(DatasetError, match="could not download .*HTTP 404") as e:
        fetch(base + "missing.bin", tmp_path / "dl" / "missing.bin", "0" * 64)
    assert "\n" not in str(e.value) and list((tmp_path / "dl").iterdir()) == []


def test_fetch_connection_refused(tmp_path, monkeypatch):
    """A port that is bound for the whole test but never listens refuses connections (no other process can take
    it meanwhile): a one-line DatasetError naming the refusal, and no file."""
    monkeypatch.setenv("no_proxy", "*")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # held, not listening: the kernel answers a connect with RST
        port = s.getsockname()[1]
        with pytest.raises(DatasetError, match="could not download .*refused") as e:
            fetch(f"http://127.0.0.1:{port}/x", tmp_path / "x", "0" * 64, timeout=5)
    assert "\n" not in str(e.value) and not (tmp_path / "x").exists()


def test_fetch_refuses_other_schemes(tmp_path):
    with pytest.raises(DatasetError, match="only http"):
        fetch(f"file://{tmp_path}/x", tmp_path / "y", "0" * 64)


# --- --download through the sources -----------------------------------------------------------------------------


def _idx_gz(arr: np.ndarray) -> bytes:
    header = struct.pack(">I", 0x0800 | arr.ndim) + b"".join(
        struct.pack(">I", d) for d in arr.shape
    )
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), compresslevel=1)


def _serve_mnist(served: Path, monkeypatch, *, corrupt: str | None = None) -> None:
    files = {
        "train-images-idx3-ubyte.gz": _idx_gz(np.zeros((60_000, 1, 1))),
        "train-labels-idx1-ubyte.gz": _idx_gz(np.arange(60_000) % 10),
        "t10k-images-idx3-ubyte.gz": _idx_gz(np.ones((10_000, 1, 1))),
        "t10k-labels-idx1-ubyte.gz": _idx_gz(np.arange(10_000) % 10),
    }
    (served / "mnist").mkdir()
    hashes = {}
    for name, data in files.items():
        hashes[name] = _sha(data)
        (served / "mnist" / name).write_bytes(b"X" + data if name == corrupt else data)
    monkeypatch.setitem(mnist.SHA256, "mnist", hashes)


def test_mnist_download(server, tmp_path, monkeypatch):
    served, base = server
    _serve_mnist(served, monkeypatch)
    monkeypatch.setitem(mnist.URLS, "mnist", base + "mnist/")
    cfg = DataConfig(name="mnist", data_dir=str(tmp_path / "empty"), download=True)
    ds = load_dataset(cfg)
    assert [len(s) for s in ds.splits.values()] == [50_000, 10_000, 10_000]
    assert ds.source == str(tmp_path / "cache" / "mnist")
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(
        mnist.SHA256["mnist"]
    )
    # A second load finds the cached files without the server.
    assert (
        len(load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "empty"))).train)
        == 50_000
    )


def test_mnist_download_bad_hash(server, tmp_path, monkeypatch):
    served, base = server
    _serve_mnist(served, monkeypatch, corrupt="t10k-images-idx3-ubyte.gz")
    monkeypatch.setitem(mnist.URLS, "mnist", base + "mnist/")
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz .*SHA-256"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "empty"), download=True))
    assert "t10k-images-idx3-ubyte.gz" not in [
        p.name for p in (tmp_path / "cache" / "mnist").iterdir()
    ]


def test_cifar_download(server, tmp_path, monkeypatch):
    served, base = server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in cifar.TRAIN_BATCHES + (cifar.TEST_BATCH,):
            data = (bytes([3]) + bytes(3072)) * 2
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (served / cifar.ARCHIVE).write_bytes(buf.getvalue())
    monkeypatch.setitem(cifar.URLS, cifar.ARCHIVE, base + cifar.ARCHIVE)
    monkeypatch.setitem(cifar.SHA256, cifar.ARCHIVE, _sha(buf.getvalue()))
    ds = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path / "empty"), download=True))
    assert len(ds.train) == 10 and len(ds.split("test")) == 2 and set(ds.train.y.tolist()) == {3}
    assert (tmp_path / "cache" / "cifar10" / cifar.ARCHIVE).is_file()
