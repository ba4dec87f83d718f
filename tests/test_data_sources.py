"""Real data sources on tiny synthetic files: mnist/fashion-mnist, cifar10, digits, mnist5k, points, folder."""

from __future__ import annotations

import gzip
import io
import logging
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import DataConfig
from gankit.data import cifar, load_dataset, locate, mnist
from gankit.errors import DatasetError


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No real cache, no $GANKIT_DATA, no Debian folder: only what each test writes."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("GANKIT_DATA", raising=False)
    monkeypatch.setitem(mnist.EXTRA_ROOTS, "fashion-mnist", ())


def idx_bytes(arr: np.ndarray) -> bytes:
    return (
        struct.pack(">I", 0x0800 | arr.ndim)
        + b"".join(struct.pack(">I", d) for d in arr.shape)
        + arr.tobytes()
    )


def write_mnist(
    folder: Path, *, gz: bool = True, n_train: int = 60_000, n_labels: int | None = None
) -> dict:
    """The four IDX files with 2×2 images; pixel [0, 0] of image i is i % 251 and its label i % 10."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", 10_000)):
        x = np.zeros((n, 2, 2), dtype=np.uint8)
        x[:, 0, 0] = np.arange(n) % 251
        x[:, 1, 1] = 200 if prefix == "t10k" else 100
        arrays[f"{prefix}-images-idx3-ubyte"] = x
        arrays[f"{prefix}-labels-idx1-ubyte"] = (
            np.arange(n if prefix == "t10k" else (n_labels or n)) % 10
        ).astype(np.uint8)
    for stem, arr in arrays.items():
        data = idx_bytes(arr)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data, compresslevel=1))
        else:
            (folder / stem).write_bytes(data)
    return arrays


# --- MNIST / Fashion-MNIST ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_mnist_paper_split(tmp_path, name):
    write_mnist(tmp_path / "data" / name)
    ds = load_dataset(DataConfig(name=name, data_dir=str(tmp_path / "data")))
    assert {k: len(v) for k, v in ds.splits.items()} == {
        "train": 50_000,
        "validation": 10_000,
        "test": 10_000,
    }
    assert ds.train.x.dtype == torch.uint8 and ds.train.x.shape == (50_000, 1, 2, 2)
    assert ds.train.y.dtype == torch.int64 and ds.num_classes == 10
    # validation = train[50000:60000]
    assert int(ds.split("validation").x[0, 0, 0, 0]) == 50_000 % 251
    assert int(ds.split("validation").y[0]) == 0 and int(ds.train.y[-1]) == 49_999 % 10
    assert int(ds.split("test").x[0, 0, 1, 1]) == 200  # test = the t10k file
    assert ds.source == str(tmp_path / "data" / name)


def test_mnist_raw_files_directly_in_root(tmp_path):
    write_mnist(tmp_path, gz=False)
    ds = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))
    assert len(ds.train) == 50_000 and ds.source == str(tmp_path)
    status = locate(DataConfig(name="mnist", data_dir=str(tmp_path)))
    assert status.present and "50,000 train" in status.size and "1×2×2" in status.size


def test_mnist_label_count_mismatch(tmp_path):
    write_mnist(tmp_path / "mnist", n_labels=59_999)
    with pytest.raises(DatasetError, match="59,999 labels"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))


def test_mnist_wrong_image_count(tmp_path):
    write_mnist(tmp_path / "mnist", n_train=100)
    with pytest.raises(DatasetError, match="100 images, expected 60,000"):
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path)))


def test_mnist_split_function_small():
    x, y = torch.arange(30, dtype=torch.uint8).view(30, 1, 1, 1), torch.arange(30)
    splits = mnist.paper_splits(x, y, x[:4], y[:4], n_valid=5)
    assert [len(s) for s in splits.values()] == [25, 5, 4] and int(splits["validation"].y[0]) == 25


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_missing_mnist_message(tmp_path, name):
    cfg = DataConfig(name=name, data_dir=str(tmp_path / "empty"))
    with pytest.raises(DatasetError) as e:
        load_dataset(cfg)
    msg = str(e.value)
    assert "\n" not in msg and "not found" in msg and "--download" in msg
    assert str(tmp_path / "empty" / name) in msg and str(tmp_path / "cache") in msg
    status = locate(cfg)
    assert not status.present and str(tmp_path / "empty") in status.where


def test_debian_fashion_mnist(monkeypatch):
    debian = Path("/usr/share/datasets/fashion-mnist")
    if not (debian / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    monkeypatch.setitem(mnist.EXTRA_ROOTS, "fashion-mnist", (str(debian),))
    ds = load_dataset(DataConfig(name="fashion-mnist"))
    assert [len(s) for s in ds.splits.values()] == [50_000, 10_000, 10_000]
    assert ds.train.x.shape[1:] == (1, 28, 28) and int(ds.train.y.max()) == 9


# --- CIFAR-10 ---------------------------------------------------------------------------------------------------------


def cifar_records(n: int, first_label: int = 0) -> bytes:
    """n records: label (first_label + i) % 10; red plane 10, green 20, blue 30 + i."""
    out = bytearray()
    for i in range(n):
        out += (
            bytes([(first_label + i) % 10])
            + bytes([10]) * 1024
            + bytes([20]) * 1024
            + bytes([30 + i]) * 1024
        )
    return bytes(out)


def cifar_batches() -> dict[str, bytes]:
    batches = {f"data_batch_{i}.bin": cifar_records(3, i) for i in range(1, 6)}
    batches["test_batch.bin"] = cifar_records(2)
    return batches


def write_cifar_tar(path: Path, batches: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in batches.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _check_cifar(ds):
    assert len(ds.train) == 15 and len(ds.split("test")) == 2 and "validation" not in ds.splits
    x = ds.train.x
    assert x.dtype == torch.uint8 and x.shape == (15, 3, 32, 32)
    # planes are R, G, B
    assert (x[:, 0] == 10).all() and (x[:, 1] == 20).all() and int(x[4, 2, 31, 31]) == 31
    assert ds.train.y.tolist()[:4] == [1, 2, 3, 2] and ds.train.y.dtype == torch.int64


def test_cifar_from_folder(tmp_path):
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for name, data in cifar_batches().items():
        (folder / name).write_bytes(data)
    cfg = DataConfig(name="cifar10", data_dir=str(tmp_path))
    _check_cifar(load_dataset(cfg))
    assert locate(cfg).size == "15 train + 2 test images 3×32×32"


def test_cifar_from_archive(tmp_path):
    write_cifar_tar(tmp_path / "cifar-10-binary.tar.gz", cifar_batches())
    ds = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    _check_cifar(ds)
    assert ds.source.endswith("cifar-10-binary.tar.gz")


def test_cifar_bad_record_count(tmp_path):
    batches = cifar_batches()
    batches["data_batch_3.bin"] += b"\0" * 5
    write_cifar_tar(tmp_path / "cifar-10-binary.tar.gz", batches)
    with pytest.raises(DatasetError, match="data_batch_3.bin .*3073-byte records"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def test_cifar_archive_missing_member(tmp_path):
    batches = cifar_batches()
    del batches["test_batch.bin"]
    write_cifar_tar(tmp_path / "cifar-10-binary.tar.gz", batches)
    with pytest.raises(DatasetError, match="lacks cifar-10-batches-bin/test_batch.bin"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def test_cifar_missing_message(tmp_path):
    with pytest.raises(DatasetError, match="--download") as e:
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    assert str(tmp_path / "cifar10") in str(e.value) and "\n" not in str(e.value)
    assert cifar.find(DataConfig(name="cifar10", data_dir=str(tmp_path))) is None


# --- digits, mnist5k -----------------------------------------------------------------------------------------------


def test_digits():
    ds = load_dataset(DataConfig(name="digits"))
    assert ds.train.x.shape == (1500, 1, 8, 8) and ds.split("test").x.shape == (297, 1, 8, 8)
    assert (
        ds.train.x.dtype == torch.uint8
        and int(ds.train.x.max()) == 255
        and int(ds.train.x.min()) == 0
    )
    assert ds.train.y.dtype == torch.int64 and set(ds.train.y.tolist()) == set(range(10))
    assert locate(DataConfig(name="digits")).present


def test_digits_scaling():
    from gankit.data.small import digits_to_uint8

    assert digits_to_uint8(np.array([0.0, 1.0, 8.0, 15.0, 16.0])).tolist() == [0, 16, 128, 239, 255]


def test_mnist5k():
    ds = load_dataset(DataConfig(name="mnist5k"))
    assert ds.train.x.shape == (4000, 1, 28, 28) and ds.split("test").x.shape == (1000, 1, 28, 28)
    assert ds.train.x.dtype == torch.uint8 and ds.train.y.dtype == torch.int64
    assert torch.bincount(ds.train.y).tolist() == [400] * 10
    assert torch.bincount(ds.split("test").y).tolist() == [100] * 10
    assert int(ds.train.x.max()) == 255 and locate(DataConfig(name="mnist5k")).present


# --- points:PATH ----------------------------------------------------------------------------------------------------


def _points(tmp_path, name: str, content) -> DataConfig:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    return DataConfig(name=f"points:{path}")


def test_points_csv_with_and_without_header(tmp_path):
    ds = load_dataset(_points(tmp_path, "a.csv", "x,y\n1,2\n3.5, -4\n\n"))
    assert (
        ds.kind == "points"
        and ds.train.x.dtype == torch.float32
        and ds.train.x.tolist() == [[1, 2], [3.5, -4]]
    )
    assert list(ds.splits) == ["train"] and ds.train.y is None
    assert load_dataset(_points(tmp_path, "b.csv", "0.5\n1e-3\n")).train.x.shape == (2, 1)


def test_points_npy(tmp_path):
    assert load_dataset(_points(tmp_path, "a.npy", np.arange(5.0))).train.x.shape == (5, 1)
    cfg = _points(tmp_path, "b.npy", np.ones((4, 2), dtype=np.int32))
    assert (
        load_dataset(cfg).train.x.dtype == torch.float32
        and locate(cfg).size == "array [4, 2] int32"
    )


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("nan.csv", "1,2\n3,nan\n", "line 2, column 2: 'nan' is not a finite number"),
        ("inf.csv", "1,2\n3,4\n-inf,0\n", "line 3, column 1: '-inf' is not a finite number"),
        (
            "digits.csv",
            "1,2\n١,٢\n",
            "line 2, column 1: '١' is not a number .ASCII decimal notation only",
        ),
        ("underscore.csv", "1,2\n1_0,2\n", "line 2, column 1: '1_0' is not a number"),
        ("ragged.csv", "1,2\n3\n", "line 2 has 1 values, earlier lines have 2"),
        ("text.csv", "x,y\n1,2\n3,abc\n", "line 3, column 2: 'abc' is not a number"),
        ("two_headers.csv", "x,y\na,b\n1,2\n", "line 2, column 1: 'a' is not a number"),
        ("empty.csv", "", "no points"),
        ("header_only.csv", "x,y\n", "no points"),
        ("wide.csv", ",".join(["1"] * 17) + "\n", "17 dimensions"),
        ("nan.npy", np.array([[0.0, 1.0], [2.0, np.nan]]), "row 1 .*NaN or Inf"),
        ("big.npy", np.array([1e300]), "row 0"),
        ("3d.npy", np.zeros((2, 2, 2)), r"shape \[2, 2, 2\]"),
        ("empty.npy", np.zeros((0, 2)), "no points"),
        ("objects.npy", np.array([{"a": 1}], dtype=object), "no pickles"),
        ("strings.npy", np.array(["a", "b"]), "integer or float array"),
    ],
)
def test_points_validation(tmp_path, name, content, match):
    if name == "objects.npy":
        np.save(tmp_path / name, content, allow_pickle=True)
        cfg = DataConfig(name=f"points:{tmp_path / name}")
    else:
        cfg = _points(tmp_path, name, content)
    with pytest.raises(DatasetError, match=match) as e:
        load_dataset(cfg)
    assert name in str(e.value) and "\n" not in str(e.value)


def test_points_missing_and_bad_extension(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_dataset(DataConfig(name=f"points:{tmp_path / 'nope.csv'}"))
    with pytest.raises(DatasetError, match=".csv or .npy"):
        load_dataset(DataConfig(name=f"points:{tmp_path / 'x.txt'}"))
    assert not locate(DataConfig(name=f"points:{tmp_path / 'nope.csv'}")).present


# --- folder:PATH ----------------------------------------------------------------------------------------------------


def _stripes(path: Path, w: int = 30, h: int = 10) -> None:
    """Left third red, middle green, right third blue: a centre crop of the short side is all green."""
    arr = np.zeros((h, w, 3), dtype=np.uint8)
    arr[:, : w // 3, 0] = 255
    arr[:, w // 3 : 2 * w // 3, 1] = 255
    arr[:, 2 * w // 3 :, 2] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_folder_resize_crop_rgb_and_gray(tmp_path):
    _stripes(tmp_path / "a.png")
    _stripes(tmp_path / "sub" / "b.JPG", w=90, h=30)
    Image.fromarray(np.full((12, 12), 77, dtype=np.uint8)).save(tmp_path / "c.bmp")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = load_dataset(DataConfig(name=f"folder:{tmp_path}", resolution=8, channels="rgb"))
    x = ds.train.x
    # images in root: no labels
    assert x.shape == (3, 3, 8, 8) and x.dtype == torch.uint8 and ds.train.y is None
    centre = x[0, :, 2:6, 2:6]  # a.png: the crop keeps the middle (green) third
    assert (centre[1] > 200).all() and (centre[0] < 60).all() and (centre[2] < 60).all()
    assert (x[1, :, :, :] == 77).all()  # c.bmp sorted before sub/b.JPG: gray 77 in every channel
    gray = load_dataset(
        DataConfig(name=f"folder:{tmp_path}", resolution=8, channels="gray")
    ).train.x
    assert gray.shape == (3, 1, 8, 8) and (gray[1] == 77).all()


def test_folder_corrupt_files_skipped_and_counted(tmp_path, caplog):
    _stripes(tmp_path / "good.png")
    (tmp_path / "garbage.png").write_bytes(b"definitely not a png")
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        buf, "PNG"
    )
    (tmp_path / "truncated.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with caplog.at_level(logging.WARNING, logger="gankit.data.folder"):
        ds = load_dataset(DataConfig(name=f"folder:{tmp_path}", resolution=4))
    assert len(ds.train) == 1
    assert "skipped 2 of 3" in caplog.text


def test_folder_all_corrupt_or_empty(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 nope")
    with pytest.raises(DatasetError, match="none of the 1 image files could be read"):
        load_dataset(DataConfig(name=f"folder:{tmp_path}"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        load_dataset(DataConfig(name=f"folder:{tmp_path / 'empty'}"))
    with pytest.raises(DatasetError, match="no such folder"):
        load_dataset(DataConfig(name=f"folder:{tmp_path / 'missing'}"))


def test_folder_labels_from_subfolders(tmp_path):
    for cls, n in (("dog", 2), ("cat", 1), ("eel", 1)):
        for i in range(n):
            _stripes(
                tmp_path / cls / "deeper" / f"{i}.png"
                if cls == "eel"
                else tmp_path / cls / f"{i}.png"
            )
    cfg = DataConfig(name=f"folder:{tmp_path}", resolution=4)
    ds = load_dataset(cfg)
    # cat, dog, dog, eel (sorted paths)
    assert ds.num_classes == 3 and ds.train.y.tolist() == [0, 1, 1, 2]
    status = locate(cfg)
    assert status.present and "4 image files" in status.size and "3 classes" in status.size


def test_resolution_and_channels_apply_to_every_image_source():
    """data.resolution / data.channels reshape any image source in one place (the folder source's own Pillow path);
    null keeps the source as it is, and a points source refuses them."""
    from PIL import Image

    from gankit.data.transforms import conform

    native = load_dataset(DataConfig(name="digits"))
    assert native.sample_shape == (1, 8, 8)
    same = load_dataset(DataConfig(name="digits", resolution=8, channels="gray"))
    assert all(torch.equal(same.splits[k].x, native.splits[k].x) for k in native.splits)
    big = load_dataset(DataConfig(name="digits", resolution=16, channels="rgb"))
    assert big.sample_shape == (3, 16, 16) and big.splits.keys() == native.splits.keys()
    first = np.asarray(
        Image.fromarray(native.train.x[0, 0].numpy()).resize((16, 16), Image.Resampling.BICUBIC)
    )
    assert np.array_equal(big.train.x[0, 0].numpy(), first) and torch.equal(
        big.train.x[:, 0], big.train.x[:, 2]
    )
    rgb = torch.randint(
        0, 256, (3, 3, 5, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    gray = conform(rgb, 4, "gray")  # 5×7 → short side 4 (4×6), centre crop 4×4
    pil = (
        Image.fromarray(rgb[1].permute(1, 2, 0).numpy())
        .convert("L")
        .resize((6, 4), Image.Resampling.BICUBIC)
    )
    assert gray.shape == (3, 1, 4, 4) and np.array_equal(
        gray[1, 0].numpy(), np.asarray(pil)[:, 1:5]
    )
    with pytest.raises(
        DatasetError, match="data.resolution applies to image sources; ring8 gives points"
    ):
        load_dataset(DataConfig(name="ring8", resolution=16))


def test_stacked_mnist_stacks_full_mnists_digits(tmp_path):
    """stacked-mnist draws from MNIST's 50,000 training digits (the paper split) and its 10,000 test digits; with
    2×2 images whose pixel [0, 0] is i % 251 and label i % 10, every channel of a stack is one of those digits."""
    write_mnist(tmp_path / "data" / "mnist")
    ds = load_dataset(DataConfig(name="stacked-mnist", data_dir=str(tmp_path / "data"), stacks=400))
    assert ds.train.x.shape == (400, 3, 2, 2) and ds.split("test").x.shape == (10_000, 3, 2, 2)
    assert ds.num_classes == 1000 and str(tmp_path / "data" / "mnist") in ds.source
    assert (ds.train.x[:, :, 1, 1] == 100).all() and (ds.split("test").x[:, :, 1, 1] == 200).all()
    status = locate(DataConfig(name="stacked-mnist", data_dir=str(tmp_path / "data"), stacks=400))
    assert status.present and "400 train" in status.size
