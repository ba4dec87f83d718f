"""folder:PATH beside odd entries: FIFOs and sockets are never opened, symlink loops, dangling symlinks and file names
that are not UTF-8 are skipped and counted (or refused with data.strict), and 16-bit grey PNGs (written here byte by
byte, independent of Pillow) read with their real range and colour key."""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from gankit_testkit import quick_config
from PIL import Image

from gankit.config import DataConfig
from gankit.data import load_dataset
from gankit.data.folder import NAMED
from gankit.errors import DatasetError
from gankit.train import Trainer

LATIN1 = b"caf\xe9.png"  # not UTF-8: os.walk gives 'caf\udce9.png'


def _pictures(folder: Path, n: int = 2) -> None:
    """``n`` random 8×8 RGB PNGs named a.png, b.png, …"""
    rng = np.random.default_rng(0)
    for i in range(n):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{chr(ord('a') + i)}.png")


def _latin1_file(folder: Path, data: bytes) -> None:
    """A file named caf\\xe9.png (one Latin-1 byte) in ``folder``; the test is skipped where names must be UTF-8."""
    try:
        with open(os.fsencode(folder) + b"/" + LATIN1, "wb") as f:
            f.write(data)
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")


def _load(folder: Path, caplog, **data):
    """(dataset, the warnings logged) of ``folder`` at 8×8."""
    with caplog.at_level(logging.WARNING, logger="gankit.data.folder"):
        ds = load_dataset(DataConfig(name=f"folder:{folder}", resolution=8, **data))
    return ds, [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def _load_within(folder: Path, caplog, seconds: float = 60.0):
    """:func:`_load` in a thread: a load still blocked after ``seconds`` (in open() of a FIFO; these few pictures
    load in well under a second) fails the test; the FIFO is then opened for writing and closed, so the blocked
    reader sees an empty file and the thread ends."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(_load(folder, caplog)), daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        os.close(os.open(folder / "x.png", os.O_WRONLY | os.O_NONBLOCK))
        thread.join(seconds)
        pytest.fail(f"loading a folder holding a FIFO was still blocked after {seconds:.0f} s")
    return result[0]


def test_fifo_is_skipped_not_opened(tmp_path, caplog):
    _pictures(tmp_path)
    os.mkfifo(tmp_path / "x.png")
    ds, warnings = _load_within(tmp_path, caplog)
    assert len(ds.train) == 2 and ds.skipped == 1
    assert len(warnings) == 1 and "skipped 1 of 3" in warnings[0]
    assert "x.png: a FIFO" in warnings[0]


def test_socket_is_skipped(tmp_path, caplog, monkeypatch):
    _pictures(tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative name: socket paths are limited to about 100 bytes
    with socket.socket(socket.AF_UNIX) as s:
        s.bind("x.png")
        ds, warnings = _load(tmp_path, caplog)
    assert len(ds.train) == 2 and ds.skipped == 1
    assert "x.png: a socket" in warnings[0]


def test_a_folder_named_like_a_picture_is_a_folder(tmp_path, caplog):
    _pictures(tmp_path)
    (tmp_path / "x.png").mkdir()
    _pictures(tmp_path / "x.png", 1)
    ds, warnings = _load(tmp_path, caplog)
    assert len(ds.train) == 3 and ds.skipped == 0 and not warnings


@pytest.mark.parametrize("link", ["dangling", "loop"])
def test_broken_symlink_is_skipped_or_refused(tmp_path, caplog, link):
    _pictures(tmp_path)
    target = tmp_path / ("nowhere.png" if link == "dangling" else "x.png")
    (tmp_path / "x.png").symlink_to(target)
    ds, warnings = _load(tmp_path, caplog)
    assert len(ds.train) == 2 and ds.skipped == 1
    assert len(warnings) == 1 and "x.png" in warnings[0] and "symbolic link" in warnings[0]
    with pytest.raises(DatasetError, match=r"cannot read \S*x\.png \(.*symbolic link"):
        load_dataset(DataConfig(name=f"folder:{tmp_path}", resolution=8, strict=True))


def test_symlink_to_a_picture_reads(tmp_path, caplog):
    (tmp_path / "pics").mkdir()
    _pictures(tmp_path / "pics", 1)
    elsewhere = tmp_path / "elsewhere.png"
    Image.new("RGB", (8, 8), (10, 20, 30)).save(elsewhere)
    (tmp_path / "pics" / "z.png").symlink_to(elsewhere)
    ds, warnings = _load(tmp_path / "pics", caplog, strict=True)
    assert len(ds.train) == 2 and ds.skipped == 0 and not warnings
    assert ds.train.x[1, :, 0, 0].tolist() == [10, 20, 30]


def test_name_that_is_not_utf8_is_skipped_and_shown_escaped(tmp_path, caplog):
    _pictures(tmp_path)
    _latin1_file(tmp_path, (tmp_path / "a.png").read_bytes())  # a good picture, by its bytes
    ds, warnings = _load(tmp_path, caplog)
    assert len(ds.train) == 2 and ds.skipped == 1
    assert len(warnings) == 1 and "caf\\xe9.png" in warnings[0] and "UTF-8" in warnings[0]
    warnings[0].encode("utf-8")  # the log line can be written
    with pytest.raises(DatasetError) as e:
        load_dataset(DataConfig(name=f"folder:{tmp_path}", resolution=8, strict=True))
    assert "caf\\xe9.png" in str(e.value) and "UTF-8" in str(e.value)
    str(e.value).encode("utf-8")


def _odd_folder(folder: Path) -> None:
    """Six good pictures, then (in path order) a Latin-1 name, a FIFO, a dangling symlink and a symlink loop."""
    folder.mkdir()
    _pictures(folder, 6)
    _latin1_file(folder, b"not even a picture")
    os.mkfifo(folder / "x.png")
    (folder / "y.png").symlink_to(folder / "nowhere.png")
    (folder / "z.png").symlink_to(folder / "z.png")


def test_odd_entries_beside_good_pictures_train_on_the_rest(tmp_path, caplog):
    _odd_folder(tmp_path / "pics")
    data = {"name": f"folder:{tmp_path / 'pics'}", "resolution": 8, "channels": "gray"}
    train = {"batch_size": 2, "steps": 2, "log_every": 1, "sample_every": 2, "checkpoint_every": 2}
    with caplog.at_level(logging.WARNING, logger="gankit.data.folder"):
        trainer = Trainer(quick_config(data=data, train=train), tmp_path / "run")
        trainer.fit()
    assert trainer.step == 2 and len(trainer.dataset.train) == 6 and trainer.dataset.skipped == 4
    warnings = [r.getMessage() for r in caplog.records if r.name == "gankit.data.folder"]
    assert len(warnings) == 1 and "skipped 4 of 10" in warnings[0]
    for name in ("caf\\xe9.png", "x.png", "y.png", "z.png"):
        assert name in warnings[0]
    with pytest.raises(DatasetError, match=r"cannot read \S*caf\\xe9\.png \(.*UTF-8"):
        load_dataset(DataConfig(**data, strict=True))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _grey16_png(values: np.ndarray, key: int | None = None) -> bytes:
    """A 16-bit grey PNG (IHDR bit depth 16, colour type 0) of ``values`` (uint16 [H, W]), with a tRNS colour key."""
    h, w = values.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in values)  # filter 0 per row
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0))
    if key is not None:
        png += _chunk(b"tRNS", struct.pack(">H", key))
    return png + _chunk(b"IDAT", zlib.compress(rows)) + _chunk(b"IEND", b"")


# 16-bit value → 8-bit value (÷257, rounded)
GREY16 = {
    0: 0,
    1: 0,
    128: 0,
    129: 1,
    255: 1,
    256: 1,
    257: 1,
    25700: 100,
    32896: 128,
    65407: 255,
    65535: 255,
}


@pytest.mark.parametrize("table", ["all", "dim"])
def test_sixteen_bit_grey_is_scaled_by_its_real_range(tmp_path, caplog, table):
    chosen = [v for v in GREY16 if table == "all" or v <= 255]  # dim: no value above 255
    values = np.resize(np.array(chosen, dtype=np.uint16), (8, 8))
    (tmp_path / "g.png").write_bytes(_grey16_png(values))
    ds, _ = _load(tmp_path, caplog, channels="gray")
    assert np.array_equal(ds.train.x[0, 0].numpy(), np.vectorize(GREY16.get)(values))


@pytest.mark.parametrize(
    "background, rgb", [(None, (255, 255, 255)), ("black", (0, 0, 0)), ("#3080c0", (48, 128, 192))]
)
def test_sixteen_bit_grey_colour_key_shows_the_background(tmp_path, caplog, background, rgb):
    values = np.resize(np.array(list(GREY16), dtype=np.uint16), (8, 8))
    values[2:5, 3:6] = 1000  # keyed; 1001 rounds to the same 8-bit value but is not the key
    values[6, :] = 1001
    (tmp_path / "g.png").write_bytes(_grey16_png(values, key=1000))
    ds, _ = _load(tmp_path, caplog, **({"background": background} if background else {}))
    x = ds.train.x[0].numpy()  # [3, 8, 8]
    keyed = values == 1000
    assert (x[:, keyed].T == rgb).all()
    grey = np.vectorize(lambda v: round(v / 257))(values[~keyed])
    assert np.array_equal(x[:, ~keyed], np.stack([grey] * 3))


def test_folder_of_only_odd_entries_is_refused(tmp_path, caplog):
    for i in range(NAMED + 2):
        (tmp_path / f"{i}.png").symlink_to(tmp_path / "nowhere.png")
    with pytest.raises(
        DatasetError, match=r"none of the 7 image files could be read \(first: \S*0\.png"
    ):
        _load(tmp_path, caplog)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warnings) == 1
        and "skipped 7 of 7" in warnings[0]
        and warnings[0].endswith("; and 2 more)")
    )
