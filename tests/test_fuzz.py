"""Fuzzing of untrusted inputs with hypothesis: IDX files (raw and .gz) and configs (overrides, YAML files).

Every input must give a valid result or gankit's own one-line error: never another exception type, a hang or a
large allocation.
"""

from __future__ import annotations

import contextlib
import gzip
import signal
import struct
import time
import tracemalloc
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gankit.config import (
    PRESET_DIR,
    SECTIONS,
    Config,
    from_dict,
    load_config,
    preset_names,
    to_yaml,
)
from gankit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from gankit.errors import ConfigError, DatasetError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_PEAK = 50 * 2**20  # bytes that reading a file under 10 KB (raw or .gz) may allocate
KINDS = {
    "images": (IMAGES_MAGIC, np.arange(24, dtype=np.uint8).reshape(2, 3, 4)),
    "labels": (LABELS_MAGIC, np.arange(5, dtype=np.uint8)),
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """One folder for the whole module (hypothesis cannot reuse function-scoped tmp_path across examples)."""
    return tmp_path_factory.mktemp("fuzz")


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise TimeoutError (failing the test) if the block runs longer than ``seconds``. The timer it borrows
    (SIGALRM, ITIMER_REAL) is pytest-timeout's too: that one is re-armed afterwards with the time it had left, so
    the per-test limit still holds for the rest of the test."""

    def fire(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, fire)
    started = time.monotonic()
    outer, interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer:  # 0: no outer timer was armed
            signal.setitimer(
                signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 1e-3), interval
            )


def test_time_limit_leaves_the_outer_timer_armed():
    """An outer SIGALRM timer (pytest-timeout's per-test limit) is still armed after a time_limit block, with the
    time it had left."""
    saved = signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, 300)
    try:
        with time_limit(5):
            pass
        left = signal.getitimer(signal.ITIMER_REAL)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, *saved)
    assert 290 < left <= 300


def expect_error_or(call, error: type[Exception], peak: int | None = None):
    """``call()``'s result, or None when it raised ``error`` with a one-line message; at most 10 s and, when ``peak``
    is given, at most ``peak`` bytes allocated (tracemalloc, which slows Python code down)."""
    if peak:
        tracemalloc.start()
    try:
        with time_limit(10):
            return call()
    except error as e:
        assert str(e) and "\n" not in str(e), repr(str(e))
        return None
    finally:
        if peak:
            used = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert used < peak, f"peak allocation {used:,} bytes"


# ------------------------------------------------------------------------------------------------------------- IDX


def idx_bytes(arr: np.ndarray) -> bytes:
    return (
        struct.pack(">I", 0x0800 | arr.ndim)
        + b"".join(struct.pack(">I", d) for d in arr.shape)
        + arr.tobytes()
    )


@st.composite
def mutated(draw, base: bytes, ndim: int = 0) -> bytes:
    """``base`` after 1-4 byte flips, truncations, appended junk or (``ndim`` > 0) header sizes set to any uint32."""
    data = bytearray(base)
    for op in draw(
        st.lists(st.sampled_from(["flip", "cut", "dim", "junk"]), min_size=1, max_size=4)
    ):
        if op == "flip" and data:
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
        elif op == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif op == "dim" and ndim:
            at = 4 + 4 * draw(st.integers(0, ndim - 1))
            size = draw(
                st.one_of(st.sampled_from([0, 1, 2**31, 2**32 - 1]), st.integers(0, 2**32 - 1))
            )
            data[at : at + 4] = size.to_bytes(4, "big")
        else:
            data += draw(st.binary(min_size=1, max_size=64))
    return bytes(data)


def check_idx(path: Path, magic: int) -> None:
    """A read of ``path`` is a DatasetError or exactly the array its (decompressed) bytes describe."""
    got = expect_error_or(lambda: read_idx(path, magic), DatasetError, MAX_PEAK)
    if got is not None:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        ndim = magic & 0xFF
        assert got.dtype == np.uint8 and got.shape == struct.unpack(
            f">{ndim}I", raw[4 : 4 + 4 * ndim]
        )
        assert got.tobytes() == raw[4 + 4 * ndim :]


@FUZZ
@given(data=st.binary(max_size=4096), kind=st.sampled_from(sorted(KINDS)), gz=st.booleans())
def test_idx_random_bytes(work, data, kind, gz):
    path = work / ("random.gz" if gz else "random")
    path.write_bytes(data)  # for .gz: random bytes are a corrupt gzip stream
    check_idx(path, KINDS[kind][0])


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)), gz=st.booleans())
def test_idx_mutated_file(work, data, kind, gz):
    magic, arr = KINDS[kind]
    body = data.draw(mutated(idx_bytes(arr), arr.ndim))
    path = work / ("mutated.gz" if gz else "mutated")
    path.write_bytes(gzip.compress(body, compresslevel=1) if gz else body)
    check_idx(path, magic)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_idx_mutated_gzip_stream(work, data, kind):
    magic, arr = KINDS[kind]
    path = work / "stream.gz"
    path.write_bytes(data.draw(mutated(gzip.compress(idx_bytes(arr)))))
    check_idx(path, magic)


@settings(FUZZ, max_examples=25)
@given(n=st.integers(1, 2**32 - 1), zeros=st.integers(0, 8 * 2**20))
def test_idx_gzip_bomb(work, n, zeros):
    """A few KB of gzip inflating to up to 8 MB behind a header declaring up to 4 G labels: memory follows the data."""
    path = work / "bomb.gz"
    path.write_bytes(
        gzip.compress(struct.pack(">II", LABELS_MAGIC, n) + bytes(zeros), compresslevel=9)
    )
    assert path.stat().st_size < 10_000
    check_idx(path, LABELS_MAGIC)


def test_idx_zero_count_with_huge_sizes(work):
    """Regression: 0 images of 4G×4G pixels made numpy's reshape raise ValueError ('array is too big')."""
    path = work / "zero-huge"
    path.write_bytes(struct.pack(">IIII", IMAGES_MAGIC, 0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(DatasetError, match="too large"):
        read_idx(path, IMAGES_MAGIC)
    path.write_bytes(struct.pack(">IIII", IMAGES_MAGIC, 0, 28, 28))
    assert read_idx(path, IMAGES_MAGIC).shape == (0, 28, 28)  # an empty but sane file is still fine


# ---------------------------------------------------------------------------------------------------------- config

KEYS = [(s, f.name) for s, cls in SECTIONS.items() for f in fields(cls)]
NASTY = [
    "",
    " ",
    "~",
    "null",
    "nan",
    ".nan",
    "inf",
    "-.inf",
    "1e999",
    "1" + "0" * 400,
    "-" + "9" * 5000,
    "0x1F",
    "1_000",
    "true",
    "no",
    "[1, 2]",
    "{a: 1}",
    "&a [*a]",
    "[" * 3000,
    "!!int abc",
    "!!float x",
    "!!bool maybe",
    "!!timestamp 2001-13-14",
    "!!binary ~",
    "!!python/object:os.system x",
    "'unterminated",
    "a: b: c",
    "\x00",
    "a\u2028b",
    "translation,color",
    "-1",
    "0",
    "1",
    "0.5",
    "1025",
    "1e-4",
    "2E-4",
    ".5",
    "1e",
    "1e-4e",
    "1_e3",
    "_1",
    "1__0",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(NASTY),
)


@st.composite
def overrides(draw) -> str:
    """A ``section.key=value`` string: mostly real keys, some malformed ones; value text from junk to YAML."""
    section, key = draw(st.sampled_from(KEYS))
    if draw(st.integers(0, 4)) == 0:  # one in five malformed
        key = draw(
            st.sampled_from(
                [
                    f"{section}.{key}"[:-1],
                    "train",
                    f"{section}.{key}.x",
                    f" {section} . {key} ",
                    draw(st.text(max_size=12)),
                ]
            )
        )
    else:
        key = f"{section}.{key}"
    value = draw(
        st.sampled_from(NASTY)
        | st.text(max_size=20)
        | st.integers().map(str)
        | st.floats().map(repr)
        | scalars.map(lambda v: yaml.safe_dump(v).removesuffix("\n...\n"))
    )
    sep = draw(st.sampled_from(["=", "=", "=", ":", ""]))
    return f"{key}{sep}{value}"


def check_config(call) -> None:
    """A ConfigError or a valid Config that survives a YAML round trip."""
    cfg = expect_error_or(call, ConfigError)
    if cfg is not None:
        assert isinstance(cfg, Config)
        assert from_dict(yaml.safe_load(to_yaml(cfg))) == cfg


FLOAT_KEYS = [
    (s, f.name)
    for s, cls in SECTIONS.items()
    for f in fields(cls)
    if str(f.type).startswith("float")
]
# 1.000000e-04, 1.000000E-04, 0.0001, 0.0001, 1_000.0
WRITTEN = ["{:e}", "{:E}", "{!r}", "{:.3g}", "{:_}"]


@FUZZ
@given(
    key=st.sampled_from(FLOAT_KEYS),
    x=st.floats(-1e6, 1e6),
    form=st.sampled_from(WRITTEN),
    file=st.booleans(),
)
def test_config_numbers_as_people_write_them(work, key, x, form, file):
    """A float key given a number in any common notation is that number or an out-of-range error, never a type
    error; from ``--set`` and from a YAML file alike."""
    text, (section, name) = form.format(x), key
    # each key valid on its own (the *_final keys need a ramp, ema_half_life_final_kimg an EMA, ada_target an
    # augmentation policy, eval_patience_kimg an evaluation interval)
    base = "steps: 1, ramp_kimg: 1, ema_half_life_kimg: 1, augment: translation, eval_every_kimg: 1"
    if file:
        path = work / "number.yaml"
        body = {"train": base, section: f"{name}: {text}"}
        if section == "train":
            body["train"] = f"{base}, {name}: {text}"
        path.write_text("".join(f"{s}: {{{b}}}\n" for s, b in body.items()))
        call = lambda: load_config(str(path))  # noqa: E731
    else:
        overrides = ["train.ramp_kimg=1", "train.ema_half_life_kimg=1", "train.augment=translation"]
        overrides.append("train.eval_every_kimg=1")
        call = lambda: load_config("quickstart", [*overrides, f"{section}.{name}={text}"])  # noqa: E731
    try:
        cfg = call()
    except ConfigError as e:
        assert "out of range" in str(e) or "is not one of" in str(e), (text, str(e))
    else:
        assert getattr(getattr(cfg, section), name) == float(text.replace("_", ""))


@FUZZ
@given(preset=st.sampled_from(preset_names()), items=st.lists(overrides(), max_size=4))
def test_config_random_overrides(preset, items):
    check_config(lambda: load_config(preset, items))


section_bodies = st.one_of(
    st.dictionaries(
        st.sampled_from([k for _, k in KEYS]) | st.text(max_size=8),
        scalars | st.lists(scalars, max_size=3),
        max_size=6,
    ),
    scalars,
    st.lists(scalars, max_size=3),
)
documents = st.one_of(
    st.dictionaries(
        st.sampled_from(list(SECTIONS)) | st.text(max_size=8), section_bodies, max_size=5
    ),
    st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=10,
    ),
)


@FUZZ
@given(doc=documents)
def test_config_random_yaml_documents(work, doc):
    path = work / "doc.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    check_config(lambda: load_config(str(path)))


@FUZZ
@given(
    doc=st.dictionaries(
        st.sampled_from(list(SECTIONS)) | st.integers() | st.none(),
        st.dictionaries(st.sampled_from([k for _, k in KEYS]) | st.integers(), scalars, max_size=4)
        | scalars,
        max_size=5,
    )
)
def test_config_from_dict_random_values(doc):
    """Straight from Python: non-string keys and values YAML would not produce (huge ints, NaN) are rejected too."""
    check_config(lambda: from_dict(doc))


@FUZZ
@given(data=st.data(), preset=st.sampled_from(preset_names()))
def test_config_mutated_preset_files(work, data, preset):
    path = work / "mutated.yaml"
    # may be invalid UTF-8
    path.write_bytes(data.draw(mutated((PRESET_DIR / f"{preset}.yaml").read_bytes())))
    check_config(lambda: load_config(str(path)))


@pytest.mark.parametrize(
    "text, message",
    [
        (b"train: {steps: 1}\noptim: {lr: \xff}\n", "not UTF-8"),
        (b"train: {steps: !!int abc}\n", "not valid YAML"),
        (b"train: {steps: !!bool maybe}\n", "not valid YAML"),
        (b"train: " + b"[" * 3000, "not valid YAML"),
        (
            b"train: {steps: 1}\noptim: {lr: 1" + b"0" * 400 + b"}\n",
            "optim.lr: must be a finite number",
        ),
    ],
)
def test_config_file_regressions(tmp_path, text, message):
    """Inputs that once leaked UnicodeDecodeError, ValueError, KeyError, RecursionError or OverflowError."""
    path = tmp_path / "c.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError, match=message) as e:
        load_config(str(path))
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


@pytest.mark.parametrize(
    "override, message",
    [
        ("optim.lr=1" + "0" * 400, "optim.lr: must be a finite number"),
        ("train.steps=!!int abc", "expected int or null, got str"),
        ("train.steps=!!bool maybe", "expected int or null, got str"),
        ("train.steps=" + "[" * 3000, "expected int or null, got str"),
        ("train.k=-" + "9" * 1000, "train.k: -999"),
    ],
)
def test_config_override_regressions(override, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config("quickstart", [override])
    assert "\n" not in str(e.value) and len(str(e.value)) < 300
