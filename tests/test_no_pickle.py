"""No code path unpickles: a static scan of src/, and a malicious pickle planted where a checkpoint belongs."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import pickle
from pathlib import Path

import pytest
import torch

from gankit.cli import main
from gankit.errors import CheckpointError
from gankit.train import checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"
UNSAFE_MODULES = {
    "pickle",
    "_pickle",
    "cPickle",
    "dill",
    "cloudpickle",
    "joblib",
    "marshal",
    "shelve",
}
# No eval/exec is allowed anywhere: config.py reads annotation strings ("int | None") from a lookup table instead.
# (file name, offence) pairs reviewed as safe; keep empty if at all possible
ALLOWED: set[tuple[str, str]] = set()


def _dotted(node: ast.AST) -> str:
    """``np.load`` for the expression ``np.load`` (Name and Attribute chains), else ""."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _keyword_is(call: ast.Call, name: str, value: object) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in call.keywords
    )


def offences(source: str) -> list[str]:
    """What in ``source`` could unpickle or evaluate data, as ``line N: ...`` strings."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [
                f"line {line}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] in UNSAFE_MODULES
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in UNSAFE_MODULES or (
                root in ("torch", "numpy") and any(a.name == "load" for a in node.names)
            ):
                found.append(
                    f"line {line}: from {node.module} import {', '.join(a.name for a in node.names)}"
                )
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in ("eval", "exec", "builtins.eval", "builtins.exec", "__import__"):
                found.append(f"line {line}: {name}(...)")
            elif name.split(".")[0] in UNSAFE_MODULES:
                found.append(f"line {line}: {name}(...)")
            elif name == "torch.load" and not _keyword_is(node, "weights_only", True):
                found.append(f"line {line}: torch.load without weights_only=True")
            elif name in ("np.load", "numpy.load") and not _keyword_is(node, "allow_pickle", False):
                found.append(f"line {line}: {name} without allow_pickle=False")
    return found


@pytest.mark.parametrize(
    "snippet, flagged",
    [
        ("import pickle\n", True),
        ("import pickle as p\n", True),
        ("from pickle import loads\n", True),
        ("x = pickle.loads(b)\n", True),
        ("x = pickle.load(f)\n", True),
        ("x = torch.load(f)\n", True),
        ("x = torch.load(f, weights_only=False)\n", True),
        ("x = torch.load(f, weights_only=True)\n", False),
        ("x = np.load(p)\n", True),
        ("x = numpy.load(p, allow_pickle=True)\n", True),
        ("x = np.load(p, allow_pickle=False)\n", False),
        ("from numpy import load\n", True),
        ("eval(text)\n", True),
        ("exec(code, {})\n", True),
        ("model.eval()\n", False),
        (
            "# pickle.load(f) in a comment, and a docstring saying 'no pickle'\n'''eval(x)'''\n",
            False,
        ),
    ],
)
def test_scanner_flags_offending_code(snippet, flagged):
    """The scan can fail: each unsafe construct is caught, and the safe look-alikes are not."""
    assert bool(offences(snippet)) == flagged, offences(snippet)


def test_no_unpickling_or_eval_in_src():
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20, f"found only {len(files)} files under {SRC}"
    bad = [
        f"{p.relative_to(SRC)} {o}"
        for p in files
        for o in offences(p.read_text(encoding="utf-8"))
        if (p.name, o.split(": ", 1)[1]) not in ALLOWED
    ]
    assert not bad, "unsafe deserialisation or eval:\n" + "\n".join(bad)


# ------------------------------------------------------------------------------------------------- malicious pickle


class _Payload:
    """Unpickling this creates (opens for writing) ``marker``: arbitrary code execution, harmless here."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _evil_bytes(kind: str, marker: Path) -> bytes:
    if kind == "pickle":
        return pickle.dumps(_Payload(marker))
    buf = io.BytesIO()
    # the zip+pickle format of a classic .pt checkpoint
    torch.save({"G.weight": _Payload(marker)}, buf)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
def test_payload_is_live(tmp_path, kind):
    """Control: unpickling the payload really does create the marker, so its absence below means something."""
    marker = tmp_path / "MARKER"
    data = _evil_bytes(kind, marker)
    if kind == "pickle":
        pickle.loads(data)  # noqa: S301 -- deliberate, on our own bytes
    else:
        torch.load(io.BytesIO(data), weights_only=False)  # noqa: S614 -- deliberate, on our own bytes
    assert marker.exists()


def _plant(run: Path, tensor_bytes: bytes, json_bytes: bytes | None = None) -> Path:
    """RUN/checkpoints/step-000000001.{safetensors,json} + latest; the JSON's SHA-256 matches ``tensor_bytes``."""
    folder = run / "checkpoints"
    folder.mkdir(parents=True)
    (folder / "step-000000001.safetensors").write_bytes(tensor_bytes)
    meta = {
        "format": checkpoint.FORMAT,
        "format_version": checkpoint.FORMAT_VERSION,
        "step": 1,
        "tensors": "step-000000001.safetensors",
        "sha256": hashlib.sha256(tensor_bytes).hexdigest(),
    }
    (folder / "step-000000001.json").write_bytes(
        json_bytes if json_bytes is not None else json.dumps(meta).encode()
    )
    (folder / "latest").write_text("step-000000001\n")
    return folder


@pytest.mark.parametrize("kind", ["pickle", "torch.save"])
@pytest.mark.parametrize("where", ["tensors", "json"])
def test_malicious_checkpoint_is_refused(tmp_path, capsys, kind, where):
    """(i) the payload as the .safetensors file, its hash recorded, so the safetensors parser must refuse it;
    (ii) the payload as the JSON. Loading and `gankit sample` fail cleanly and never run the payload."""
    marker = tmp_path / "MARKER"
    evil = _evil_bytes(kind, marker)
    run = tmp_path / "run"
    folder = _plant(run, evil) if where == "tensors" else _plant(run, b"\0" * 8, json_bytes=evil)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(folder)
    assert "\n" not in str(e.value)
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 1
    assert "gankit: error:" in capsys.readouterr().err
    assert not marker.exists() and not (tmp_path / "s.png").exists()


def test_pickle_as_latest_pointer_never_runs(tmp_path):
    """(iii) the payload as the ``latest`` file: `gankit sample` fails with exit code 1 and runs nothing."""
    marker = tmp_path / "MARKER"
    folder = _plant(tmp_path / "run", b"\0" * 8)
    (folder / "latest").write_bytes(_evil_bytes("pickle", marker))
    assert main(["sample", str(tmp_path / "run")]) == 1
    assert not marker.exists()


def test_pickle_as_latest_pointer_is_a_checkpoint_error(tmp_path):
    folder = _plant(tmp_path / "run", b"\0" * 8)
    (folder / "latest").write_bytes(_evil_bytes("pickle", tmp_path / "MARKER"))
    with pytest.raises(CheckpointError, match=r"latest is unreadable \(UnicodeDecodeError\)"):
        checkpoint.load(folder)
