"""`gankit export`: every model family's generator leaves gankit as a torch.export program (.pt2) and as ONNX, and
in a process where gankit cannot be imported the file gives what `gankit sample` gives for the same z (and labels):
within 1e-5 (.pt2) and 1e-4 (ONNX through onnxruntime)."""

from __future__ import annotations

import json
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
        about = json.loads(out.with_suffix(".json").read_text())
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
