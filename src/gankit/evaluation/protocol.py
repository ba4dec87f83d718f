"""The protocol stamp of a metric row: everything its value depends on besides the generator's weights, so that two
figures are compared only when they were measured the same way, and the comparison of eval.json files
(`gankit eval --compare`).

A stamp is a JSON object: ``metric`` and ``version`` (the definition's), ``n`` generated samples, ``seed`` of their
noise (None for an .npz), ``generator`` (``ema``, ``raw`` or ``file``), ``reference`` (``name``, ``n``, ``sha256``
of its content) for metrics that compare with real data, what the metric's entry adds (``features``: the network,
its weights' SHA-256, dtype, device class and resize; settings such as KID's subset size), and ``gankit`` (the
version that computed it; the one field two comparable stamps may differ in).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import __version__
from .inputs import Reference

INFORMATIONAL = ("gankit",)  # stamp fields that may differ between comparable figures


def content_sha256(reference: Reference) -> str:
    """SHA-256 of what a reference compares with: its uint8 images (shape, then bytes) or its statistics (mu,
    sigma as float64)."""
    digest = hashlib.sha256()
    if reference.images is not None:
        images = reference.images.contiguous()
        digest.update(repr(tuple(images.shape)).encode())
        digest.update(images.numpy().data)  # no copy
    else:
        digest.update(reference.stats.mu.double().numpy().tobytes())
        digest.update(reference.stats.sigma.double().numpy().tobytes())
    return digest.hexdigest()


def _reference_stamp(job) -> dict[str, Any]:
    def compute() -> dict[str, Any]:
        reference = job.reference("protocol")
        n = len(reference.images) if reference.images is not None else reference.stats.n
        return {"name": reference.name, "n": n, "sha256": content_sha256(reference)}

    return job.shared("reference_stamp", compute)


def protocol_stamp(job, metric) -> dict[str, Any]:
    """The stamp of ``metric``'s rows computed in ``job`` (gankit.evaluation.table.Job, Metric)."""
    samples = job.samples
    stamp: dict[str, Any] = {
        "metric": metric.name,
        "version": metric.version,
        "n": len(samples.x),
        "seed": None if samples.generator == "file" else job.opts.seed,
        "generator": samples.generator,
    }
    if metric.needs_reference and job.reference_spec:
        stamp["reference"] = _reference_stamp(job)
    stamp.update(metric.protocol(job))
    stamp["gankit"] = __version__
    return stamp


def flat(stamp: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"reference": {"n": 5}}`` → ``{"reference.n": 5}``."""
    out: dict[str, Any] = {}
    for key, value in stamp.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The fields (dotted) in which two stamps differ, the informational ones left out, in a's order."""
    fa, fb = flat(a), flat(b)
    keys = [*fa, *(k for k in fb if k not in fa)]
    return [k for k in keys if k not in INFORMATIONAL and fa.get(k) != fb.get(k)]


def describe(stamp: dict[str, Any] | None) -> str:
    """One line: ``fid v1: 2000 generated (seed 0, EMA G) vs emoji:train (3926, sha256 1a2b3c4d…); inception …``."""
    if not stamp:
        return "no protocol stamp (computed by an earlier gankit)"
    who = {"ema": "EMA G", "raw": "raw G", "file": "an .npz"}.get(stamp.get("generator"), "?")
    seed = f"seed {stamp['seed']}, " if stamp.get("seed") is not None else ""
    text = (
        f"{stamp.get('metric')} v{stamp.get('version')}: {stamp.get('n')} generated ({seed}{who})"
    )
    ref = stamp.get("reference")
    if ref:
        text += f" vs {ref['name']} ({ref['n']}, sha256 {str(ref['sha256'])[:12]})"
    skip = {"metric", "version", "n", "seed", "generator", "reference", "gankit"}
    for key, value in flat({k: v for k, v in stamp.items() if k not in skip}).items():
        shown = value[:12] if isinstance(value, str) and key.endswith("sha256") else value
        text += f"; {key} {shown}"
    return text + f"; gankit {stamp.get('gankit')}"
