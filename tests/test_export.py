"""`gankit export`: every model family's generator leaves gankit as a torch.export program (.pt2) and as ONNX, and
in a process where gankit cannot be imported the file gives what `gankit sample` gives for the same z (and labels):
within 1e-5 (.pt2) and 1e-4 (ONNX through onnxruntime)."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from gankit.cli import main
from gankit.train.restore import load_generator

FAMILIES = {  # name → overrides of quickstart that train two steps of that family on tiny data
    "paper-mlp": ["train.steps=2"],
    "mlp-points": [
        "data.name=ring8",
        "data.n_samples=256",
        "model.arch=mlp",
        "model.z_dim=2",
        "train.steps=2",
    ],
    "dcgan": ["model.arch=dcgan", "model.width=8", "model.z_dim=16", "train.steps=2"],
    "resnet": ["data.resolution=32", "model.arch=resnet", "model.width=8", "train.steps=2"],
    "nf-resnet": ["data.resolution=32", "model.arch=nf-resnet", "model.width=8", "train.steps=2"],
    "dcgan-projection": [
        "model.arch=dcgan",
        "model.width=8",
        "model.conditional=projection",
        "train.steps=2",
    ],
    "dcgan-inner": [
        "data.resolution=64",
        "model.arch=dcgan",
        "model.width=8",
        "model.inner_resolution=32",
        "train.steps=2",
        "train.ema_half_life_kimg=1",
    ],
}
NO_GANKIT = """
import sys
sys.modules["gankit"] = None  # as in a program of the user's: gankit cannot be imported
import numpy as np
data = np.load(sys.argv[2])
inputs = [data["z"]] + ([data["label"]] if "label" in data.files else [])
if sys.argv[1].endswith(".pt2"):
    import torch
    module = torch.export.load(sys.argv[1]).module()
    with torch.no_grad():
        out = module(*[torch.from_numpy(a) for a in inputs]).numpy()
else:
    import onnxruntime
    session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    out = session.run(None, dict(zip(names, inputs)))[0]
np.save(sys.argv[3], out)
"""


def _run(tmp_path, family: str):
    run = tmp_path / family
    overrides = [arg for o in FAMILIES[family] for arg in ("--set", o)]
    common = [
        "--set",
        "train.batch_size=16",
        "--set",
        "train.log_every=1",
        "--set",
        "train.sample_every=100",
    ]
    assert main(["train", "quickstart", "--run-dir", str(run), "--quiet", *overrides, *common]) == 0
    return run


def _inputs(G, n: int = 5) -> dict[str, np.ndarray]:
    z = G.sample_z(n, generator=torch.Generator().manual_seed(3), device="cpu")
    inputs = {"z": z.numpy()}
    if G.num_classes:
        inputs["label"] = (torch.arange(n) % G.num_classes).numpy()
    return inputs


def _outside(tmp_path, exported, inputs) -> np.ndarray:
    np.savez(tmp_path / "in.npz", **inputs)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(NO_GANKIT),
            str(exported),
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npy"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(tmp_path / "out.npy")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_exports_and_matches_gankit_sample_outside_gankit(tmp_path, family):
    run = _run(tmp_path, family)
    G, _, _ = load_generator(run)
    inputs = _inputs(G)
    with torch.no_grad():
        expected = G(*[torch.from_numpy(a) for a in inputs.values()]).numpy()
    for fmt, tolerance in (("pt2", 1e-5), ("onnx", 1e-4)):
        if fmt == "onnx":
            pytest.importorskip("onnxruntime")
            pytest.importorskip("onnxscript")
        out = tmp_path / f"g.{fmt}"
        assert main(["export", str(run), "--format", fmt, "--out", str(out)]) == 0
        got = _outside(tmp_path, out, inputs)
        assert got.shape == expected.shape and np.abs(got - expected).max() <= tolerance, fmt
        about = json.loads(out.with_name(f"{out.name}.json").read_text())
        assert about["inputs"]["z"]["shape"] == ["B", G.z_dim] and about["output"]["shape"][
            1:
        ] == list(G.out_shape)
        assert about["classes"] == G.num_classes and ("label" in about["inputs"]) == bool(
            G.num_classes
        )


def test_uint8_output_equals_the_sample_npz_pixels(tmp_path):
    run = _run(tmp_path, "dcgan")
    assert (
        main(["export", str(run), "--format", "pt2", "--uint8", "--out", str(tmp_path / "g.pt2")])
        == 0
    )
    assert (
        main(
            [
                "sample",
                str(run),
                "--n",
                "5",
                "--seed",
                "3",
                "--npz",
                str(tmp_path / "s.npz"),
                "--out",
                str(tmp_path / "s.png"),
            ]
        )
        == 0
    )
    G, _, _ = load_generator(run)
    z = G.sample_z(5, generator=torch.Generator().manual_seed(3), device="cpu")
    got = _outside(tmp_path, tmp_path / "g.pt2", {"z": z.numpy()})
    assert got.dtype == np.uint8 and np.array_equal(got, np.load(tmp_path / "s.npz")["x"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "gif"], "--format 'gif' is not one of onnx, pt2"),
        (["--checkpoint", "99"], "99"),
    ],
)
def test_export_errors_are_one_line(tmp_path, capsys, args, message):
    run = _run(tmp_path, "paper-mlp")
    capsys.readouterr()
    assert main(["export", str(run), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_docs_example_runs_as_written(tmp_path):
    """docs/export.md's onnxruntime example, run in the export folder of a run, in a process without gankit."""
    import re
    from pathlib import Path

    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    run = _run(tmp_path, "dcgan")
    assert main(["export", str(run)]) == 0
    page = (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text()
    example = re.findall(r"```python\n(.*?)```", page, re.S)[0]
    code = 'import sys\nsys.modules["gankit"] = None\n' + example
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=run / "export",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "(16, 1, 28, 28)"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A class-conditional run exported in the default place as ONNX then pt2, each by ``python -m gankit``:
    (the run, {format: stderr})."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    run = _run(tmp_path_factory.mktemp("exported"), "dcgan-projection")
    stderr = {}
    for fmt in ("onnx", "pt2"):
        result = subprocess.run(
            [sys.executable, "-m", "gankit", "export", str(run), "--format", fmt],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        stderr[fmt] = result.stderr
    return run, stderr


def test_each_model_file_has_a_json_of_its_own(exported):
    run, _ = exported
    assert sorted(p.name for p in (run / "export").iterdir()) == [
        "generator.onnx",
        "generator.onnx.json",
        "generator.pt2",
        "generator.pt2.json",
    ]
    for fmt in ("onnx", "pt2"):
        assert json.loads((run / "export" / f"generator.{fmt}.json").read_text())["format"] == fmt


def test_a_successful_export_prints_no_warnings(exported):
    _, stderr = exported
    for fmt, text in stderr.items():
        noise = [line for line in text.splitlines() if re.search(r"warn|^[WE]\d{4} ", line, re.I)]
        assert not noise, (fmt, noise)


def test_exported_files_refuse_labels_out_of_range(exported):
    import onnxruntime

    run, _ = exported
    z = np.zeros((2, 100), np.float32)
    session = onnxruntime.InferenceSession(
        str(run / "export" / "generator.onnx"), providers=["CPUExecutionProvider"]
    )
    program = torch.export.load(run / "export" / "generator.pt2").module()
    assert session.run(None, {"z": z, "label": np.array([0, 9])})[0].shape == (2, 1, 28, 28)
    for labels in ([0, 10], [-1, 0], [0, 2**40]):
        with pytest.raises(Exception, match="out of bounds|invalid index"):
            session.run(None, {"z": z, "label": np.array(labels)})
        with pytest.raises(Exception, match="out of bounds|invalid index"):
            program(torch.from_numpy(z), torch.tensor(labels))


@pytest.mark.parametrize(("fmt", "name"), [("onnx", "g.json"), ("pt2", "g.onnx"), ("onnx", "g")])
def test_an_out_of_another_format_is_one_line_before_anything_is_written(
    exported, tmp_path, capsys, fmt, name
):
    run, _ = exported
    capsys.readouterr()
    assert main(["export", str(run), "--format", fmt, "--out", str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {tmp_path / name}" in err and f".{fmt}" in err
    assert list(tmp_path.iterdir()) == []


ARCH = "gankit_test_export_arch"  # a name no other test imports


def test_a_model_module_that_fails_on_import_is_one_line(tmp_path, capsys, monkeypatch):
    """A run whose model.arch names a module of the user's, once the module raises on import."""
    from gankit.models import registry

    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(registry.ARCHITECTURES, "_entries", registry.ARCHITECTURES.entries())
    module = tmp_path / f"{ARCH}.py"
    module.write_text("from gankit.models.registry import resolve\npair = resolve('mlp')\n")
    run = tmp_path / "run"
    points = ["data.name=ring8", "data.n_samples=256", f"model.arch={ARCH}:pair", "train.steps=2"]
    args = ["train", "quickstart", "--run-dir", str(run), "--quiet"]
    assert main(args + [a for o in points for a in ("--set", o)]) == 0
    for source, kind in (
        ("raise RuntimeError('no GPU here')\n", "RuntimeError"),
        ("def (:\n", "SyntaxError"),
    ):
        module.write_text(source)
        sys.modules.pop(ARCH, None)
        importlib.invalidate_caches()
        capsys.readouterr()
        assert main(["export", str(run), "--format", "pt2"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"cannot import {ARCH!r}" in err and kind in err, err
    sys.modules.pop(ARCH, None)
