"""A run's generator for programs that do not have gankit (docs/export.md): an ONNX file (any ONNX runtime) or a
``torch.export`` program (``.pt2``, read with ``torch.export.load``), each with a JSON beside it named after it
(``generator.onnx.json``) that says how to feed it: the noise's size and prior, the classes, the output's shape and
range, and where it came from.

The file computes what ``gankit sample`` computes: G (its EMA copy when the run kept one, unless ``raw``) in eval
mode, z float32 [B, z_dim] (and label int64 [B] for a class-conditional run) → images float32 [B, C, H, W] in
G's value range, or uint8 [B, C, H, W] with ``uint8`` (rounded as ``gankit sample --npz`` rounds). The batch size
is free. A label outside [0, classes) is an index error when the file runs (in ONNX: GatherND's "invalid index").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from . import __version__
from .data import to_uint8
from .errors import GankitError, first_line
from .fileio import write_atomic
from .models import Generator
from .models.base import prior_half_width
from .train.restore import load_generator_and_meta

FORMATS = ("onnx", "pt2")
ONNX_OPSET = 18
# what torch's exporters print about a successful export, as (category, start of the message)
HARMLESS_WARNINGS = (
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated"),
    (UserWarning, r"# The axis name: \w+ will not be used"),
)
# the ONNX exporter's logger that notes each torchvision op it skips when torchvision is absent
REGISTRATION_LOG = "torch.onnx._internal.exporter._registration"


class _Unconditional(nn.Module):
    """G(z) as the file computes it."""

    def __init__(self, G: Generator, uint8: bool) -> None:
        super().__init__()
        self.G, self.uint8 = G, uint8

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.G(z)
        return to_uint8(x, self.G.value_range) if self.uint8 else x


class _Conditional(_Unconditional):
    """G(z, label) as the file computes it."""

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = self.G(z, _in_range(label, self.G.num_classes))
        return to_uint8(x, self.G.value_range) if self.uint8 else x


def _in_range(label: torch.Tensor, classes: int) -> torch.Tensor:
    """``label`` itself, through a lookup that is out of bounds for any label outside [0, classes): negative ones
    are sent past the end, where ONNX's GatherND would count them from it."""
    index = torch.where(label < 0, classes, label)
    return torch.arange(classes, device=label.device)[index]


def exported_module(
    G: Generator, uint8: bool = False
) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """(the module the file holds, example inputs of batch 2) for ``G`` in eval mode."""
    G = G.eval()
    z = torch.zeros(2, G.z_dim)
    if G.num_classes:
        return _Conditional(G, uint8).eval(), (z, torch.zeros(2, dtype=torch.int64))
    return _Unconditional(G, uint8).eval(), (z,)


def describe(G: Generator, meta: dict, uint8: bool, raw: bool, fmt: str) -> dict:
    """The JSON beside the file: inputs, outputs and provenance."""
    inputs = {"z": {"dtype": "float32", "shape": ["B", G.z_dim]}}
    if G.num_classes:
        inputs["label"] = {"dtype": "int64", "shape": ["B"], "range": [0, G.num_classes - 1]}
    value_range = {"unit": [0.0, 1.0], "symmetric": [-1.0, 1.0]}.get(G.value_range)
    return {
        "format": fmt,
        "inputs": inputs,
        "prior": {"name": G.prior, "picture_half_width": prior_half_width(G.prior)},
        "output": {
            "name": "images" if meta["kind"] == "image" else "points",
            "dtype": "uint8" if uint8 else "float32",
            "shape": ["B", *G.out_shape],
            "range": [0, 255] if uint8 else value_range,
        },
        "classes": G.num_classes,
        "weights": "raw G" if raw or not meta.get("ema") else "EMA of G",
        "step": meta["step"],
        "config_sha256": hashlib.sha256(
            json.dumps(meta["config"], sort_keys=True).encode()
        ).hexdigest(),
        "gankit": __version__,
    }


def _dynamic_shapes(inputs: tuple[torch.Tensor, ...]):
    batch = torch.export.Dim("batch", min=1, max=65536)
    return tuple({0: batch} for _ in inputs)


def _no_torchvision_notes(record: logging.LogRecord) -> bool:
    """A log filter: False for the notes on skipped torchvision ops."""
    return "torchvision is not installed" not in record.getMessage()


@contextlib.contextmanager
def _harmless_warnings_silenced():
    """Within: HARMLESS_WARNINGS and the ONNX exporter's notes on skipped torchvision ops are not shown."""
    log = logging.getLogger(REGISTRATION_LOG)
    log.addFilter(_no_torchvision_notes)
    try:
        with warnings.catch_warnings():
            for category, message in HARMLESS_WARNINGS:
                warnings.filterwarnings("ignore", message, category)
            yield
    finally:
        log.removeFilter(_no_torchvision_notes)


def write_pt2(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: Path) -> None:
    """The module as a torch.export program (``torch.export.save``), batch dimension free."""
    program = torch.export.export(module, inputs, dynamic_shapes=_dynamic_shapes(inputs))
    tmp = out.with_name(f".{out.stem}.tmp.pt2")
    torch.export.save(program, str(tmp))
    tmp.replace(out)


def write_onnx(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: Path) -> None:
    """The module as ONNX (opset ONNX_OPSET, batch dimension free); needs ``pip install "gankit[export]"``."""
    try:
        import onnxscript  # noqa: F401 -- torch.onnx's exporter needs it
    except ImportError:
        raise GankitError(
            '--format onnx needs onnx and onnxscript: pip install "gankit[export]"'
        ) from None
    names = ["z", "label"][: len(inputs)]
    program = torch.onnx.export(
        module,
        inputs,
        input_names=names,
        output_names=["images"],
        dynamic_shapes=_dynamic_shapes(inputs),
        opset_version=ONNX_OPSET,
        dynamo=True,
        verbose=False,
    )
    write_atomic(out, program.model_proto.SerializeToString())


def export_run(
    run_dir: Path,
    out: Path | None = None,
    *,
    fmt: str = "onnx",
    raw: bool = False,
    uint8: bool = False,
    which: str | int = "latest",
) -> tuple[Path, Path]:
    """Write the run's generator to ``out`` (default RUN/export/generator.onnx or .pt2) and its JSON beside it
    (``out``'s name + ``.json``); returns both paths."""
    if fmt not in FORMATS:
        raise GankitError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if out is not None and Path(out).suffix.lower() != f".{fmt}":
        raise GankitError(f"--out {out}: --format {fmt} writes a file whose name ends in .{fmt}")
    G, meta = load_generator_and_meta(Path(run_dir), which, raw=raw)
    out = Path(out) if out else Path(run_dir) / "export" / f"generator.{fmt}"
    out.parent.mkdir(parents=True, exist_ok=True)
    module, inputs = exported_module(G, uint8)
    try:
        with torch.no_grad(), _harmless_warnings_silenced():
            (write_onnx if fmt == "onnx" else write_pt2)(module, inputs, out)
    except GankitError:
        raise
    except Exception as e:  # noqa: BLE001 -- the exporters raise many types, with pages of detail
        raise GankitError(f"cannot export {type(G).__name__} as {fmt}: {first_line(e)}") from e
    about = out.with_name(f"{out.name}.json")
    write_atomic(about, json.dumps(describe(G, meta, uint8, raw, fmt), indent=1).encode())
    return out, about
