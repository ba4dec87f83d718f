"""A small CNN classifier for digits / MNIST / Fashion-MNIST, and the scores read from it.

Mode counting with a pretrained classifier follows Metz et al. 2017 (unrolled GANs) and PacGAN (Lin et al. 2018):
the histogram of predicted classes of generated images, its number of covered classes and its KL divergence to the
uniform distribution. The classifier's 128-d penultimate features also serve a domain-specific Fréchet distance
(Heusel et al. 2017's FID with a task classifier in place of Inception). The network is LeNet-like (LeCun et al. 1998):
two conv-ReLU-maxpool stages, a 128-unit hidden layer ("features") and the logits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math

import torch
from torch import Tensor, nn

from gankit.errors import MetricError
from gankit.fileio import cache_dir, write_atomic

__all__ = [
    "SmallCNN",
    "train_classifier",
    "load_or_train_classifier",
    "predict_classes",
    "histogram_scores",
    "classifier_scores",
    "stacked_modes",
    "classifier_features",
]

logger = logging.getLogger(__name__)

FEATURE_DIM = 128
_FORMAT = 1


class SmallCNN(nn.Module):
    """conv3×3(width)-ReLU-maxpool2 → conv3×3(2·width)-ReLU-maxpool2 → FC 128-ReLU (features) → FC num_classes.

    Input: float ``[N, in_channels, resolution, resolution]`` in [0, 1]. Pooling rounds up (``ceil_mode``), so any
    resolution ≥ 1 works: 28 → 14 → 7, 8 → 4 → 2.
    """

    def __init__(
        self, *, in_channels: int = 1, resolution: int = 28, num_classes: int = 10, width: int = 32
    ) -> None:
        super().__init__()
        for key, value in (
            ("in_channels", in_channels),
            ("resolution", resolution),
            ("num_classes", num_classes),
            ("width", width),
        ):
            if not isinstance(value, int) or value < 1:
                raise MetricError(f"SmallCNN {key} must be an int >= 1, got {value!r}")
        self.config = {
            "in_channels": in_channels,
            "resolution": resolution,
            "num_classes": num_classes,
            "width": width,
        }
        side = math.ceil(math.ceil(resolution / 2) / 2)
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
            nn.Flatten(),
            nn.Linear(2 * width * side * side, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` in [0, 1] → float ``[N, 128]`` (after the hidden layer's ReLU)."""
        return self.body((x - 0.5) * 2.0)

    def forward(self, x: Tensor) -> Tensor:
        """``[N, C, H, W]`` in [0, 1] → logits ``[N, num_classes]``."""
        return self.head(self.features(x))


def _check_images(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dtype != torch.uint8 or x.dim() != 4 or x.shape[0] == 0:
        got = f"{x.dtype} {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__
        raise MetricError(f"{name} must be a non-empty uint8 tensor [N, C, H, W], got {got}")
    if x.shape[2] != x.shape[3]:
        raise MetricError(f"{name} must be square images, got {x.shape[2]}x{x.shape[3]}")
    return x


def _check_labels(y: object, n: int, name: str, num_classes: int) -> Tensor:
    if not isinstance(y, Tensor) or y.dtype != torch.int64 or y.shape != (n,):
        got = f"{y.dtype} {tuple(y.shape)}" if isinstance(y, Tensor) else type(y).__name__
        raise MetricError(f"{name} must be an int64 tensor [{n}], got {got}")
    if int(y.min()) < 0 or int(y.max()) >= num_classes:
        raise MetricError(
            f"{name} must lie in [0, {num_classes}), got [{int(y.min())}, {int(y.max())}]"
        )
    return y


def _to_unit(x: Tensor, device: torch.device) -> Tensor:
    return x.to(device=device, dtype=torch.float32) / 255.0


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _accuracy(model: SmallCNN, x: Tensor, y: Tensor, batch_size: int = 500) -> float:
    device = _device(model)
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        pred = model(_to_unit(x[start : start + batch_size], device)).argmax(dim=1)
        correct += int((pred.cpu() == y[start : start + batch_size].cpu()).sum())
    return correct / x.shape[0]


def train_classifier(
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    *,
    epochs: int = 3,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    num_classes: int = 10,
) -> tuple[SmallCNN, float]:
    """Train a ``SmallCNN`` with Adam on uint8 images ``[N, C, H, W]`` and int64 labels ``[N]`` in [0, num_classes).

    Minibatches are drawn by index from a seeded permutation per epoch; the initial weights come from the same seed
    (the global RNG is left untouched). Returns the model in eval mode and its test accuracy in [0, 1].
    """
    x_train, x_test = _check_images(x_train, "x_train"), _check_images(x_test, "x_test")
    y_train = _check_labels(y_train, x_train.shape[0], "y_train", num_classes)
    y_test = _check_labels(y_test, x_test.shape[0], "y_test", num_classes)
    if x_test.shape[1:] != x_train.shape[1:]:
        raise MetricError(
            f"x_test shape {tuple(x_test.shape[1:])} must match x_train {tuple(x_train.shape[1:])}"
        )
    for key, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise MetricError(f"{key} must be an int >= 1, got {value!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SmallCNN(
            in_channels=x_train.shape[1], resolution=x_train.shape[2], num_classes=num_classes
        )
    model = model.to(x_train.device).train()
    _fit(model, x_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    model.eval()
    acc = _accuracy(model, x_test, y_test)
    logger.info("classifier test accuracy %.4f", acc)
    return model, acc


def _fit(
    model: SmallCNN,
    x_train: Tensor,
    y_train: Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> None:
    """Adam on cross-entropy, minibatches by index from a permutation per epoch drawn from ``seed``."""
    device = x_train.device
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order_gen = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=order_gen).to(device)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            loss = nn.functional.cross_entropy(
                model(_to_unit(x_train[idx], device)), y_train[idx].to(device)
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        logger.info("classifier epoch %d/%d: train loss %.4f", epoch + 1, epochs, total / n)


def _fingerprint(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def weights_sha256(model: nn.Module) -> str:
    """Hex SHA-256 over the model's state (names in order, then each tensor's bytes): which network read images."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def load_or_train_classifier(
    name: str,
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    *,
    epochs: int = 3,
    seed: int = 0,
) -> tuple[SmallCNN, float]:
    """``train_classifier`` once, then load from ``cache_dir()/classifiers/{name}-{key}.safetensors`` (+ ``.json``).

    ``key`` = ``{fingerprint}-e{epochs}-s{seed}``, fingerprint = first 16 hex digits of sha256(x_train bytes +
    y_train bytes). num_classes = max label + 1 over train and test. The JSON holds the architecture, test accuracy,
    epochs, seed, the fingerprints and the tensor file's SHA-256; a missing, unreadable or mismatched cache is
    retrained (with a logged warning when one existed). A different test set is re-scored, not retrained.
    """
    x_train, x_test, num_classes = _check_cache_inputs(name, x_train, y_train, x_test, y_test)
    train_fp, test_fp = _fingerprint(x_train, y_train), _fingerprint(x_test, y_test)
    arch = dict(
        in_channels=int(x_train.shape[1]),
        resolution=int(x_train.shape[2]),
        num_classes=num_classes,
        width=32,
    )
    folder, stem = cache_dir() / "classifiers", f"{name}-{train_fp}-e{epochs}-s{seed}"
    tensor_path, meta_path = folder / f"{stem}.safetensors", folder / f"{stem}.json"
    expected = dict(format=_FORMAT, arch=arch, epochs=epochs, seed=seed, train_fingerprint=train_fp)
    if meta_path.exists() or tensor_path.exists():
        loaded = _load_cached(tensor_path, meta_path, expected)
        if loaded is not None:
            return _scored(*loaded, x_test, y_test, test_fp, stem)
    model, acc = train_classifier(
        x_train, y_train, x_test, y_test, epochs=epochs, seed=seed, num_classes=num_classes
    )
    meta = dict(expected, name=name, test_accuracy=acc, test_fingerprint=test_fp)
    _save_cached(model, tensor_path, meta_path, meta)
    return model, acc


def _scored(
    model: SmallCNN, meta: dict, x_test: Tensor, y_test: Tensor, test_fp: str, stem: str
) -> tuple[SmallCNN, float]:
    """A cached model on the test set's device with its test accuracy (re-scored on a new test set)."""
    model = model.to(x_test.device)
    if meta.get("test_fingerprint") == test_fp:
        return model, float(meta["test_accuracy"])
    logger.info("classifier %s: new test set, re-scoring the cached model", stem)
    return model, _accuracy(model, x_test, y_test)


def _check_cache_inputs(
    name: str, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor
) -> tuple[Tensor, Tensor, int]:
    """(x_train, x_test checked, the class count: max label + 1); one-line MetricErrors otherwise."""
    plain = isinstance(name, str) and name and not any(c in name for c in "/\\\0")
    if not plain or name.startswith("."):
        raise MetricError(f"classifier name must be a plain file-name stem, got {name!r}")
    x_train, x_test = _check_images(x_train, "x_train"), _check_images(x_test, "x_test")
    if not all(isinstance(y, Tensor) and y.numel() > 0 for y in (y_train, y_test)):
        raise MetricError("y_train and y_test must be non-empty int64 tensors")
    return x_train, x_test, max(int(y_train.max()), int(y_test.max())) + 1


def _save_cached(model: SmallCNN, tensor_path, meta_path, meta: dict) -> None:
    """The model's tensors and ``meta`` (plus the tensor file's SHA-256) into the cache, atomically."""
    from safetensors.torch import save

    data = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(tensor_path, data)
    write_atomic(
        meta_path,
        (
            json.dumps(
                {**meta, "sha256": hashlib.sha256(data).hexdigest()}, indent=2, sort_keys=True
            )
            + "\n"
        ).encode(),
    )


def _load_cached(tensor_path, meta_path, expected: dict) -> tuple[SmallCNN, dict] | None:
    """The cached model and its JSON, or None (warning logged) when anything is missing or does not match."""
    from safetensors.torch import load

    try:
        meta = json.loads(meta_path.read_text())
        data = tensor_path.read_bytes()
    except (OSError, ValueError) as exc:
        logger.warning("classifier cache %s unreadable (%s); retraining", tensor_path.name, exc)
        return None
    if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
        logger.warning(
            "classifier cache %s does not match this data/config; retraining", meta_path.name
        )
        return None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        logger.warning("classifier cache %s fails its SHA-256 check; retraining", tensor_path.name)
        return None
    try:
        model = SmallCNN(**expected["arch"])
        model.load_state_dict(load(data))
    except Exception as exc:  # a hash-valid but malformed file: treat like corruption
        logger.warning(
            "classifier cache %s cannot be loaded (%s); retraining", tensor_path.name, exc
        )
        return None
    return model.eval(), meta


def _predict_batches(model: nn.Module, images: Tensor, batch_size: int, fn) -> list[Tensor]:
    images = _check_images(images, "images")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise MetricError(f"batch_size must be an int >= 1, got {batch_size!r}")
    expected = getattr(model, "config", {}).get("in_channels")
    if expected is not None and images.shape[1] != expected:
        raise MetricError(
            f"images have {images.shape[1]} channels, the classifier expects {expected}"
        )
    device = _device(model)
    return [
        fn(_to_unit(images[s : s + batch_size], device)).cpu()
        for s in range(0, images.shape[0], batch_size)
    ]


@torch.no_grad()
def predict_classes(model: SmallCNN, images: Tensor, *, batch_size: int = 500) -> Tensor:
    """The classifier's most likely class of each uint8 image ``[N, C, H, W]``: int64 ``[N]``."""
    return torch.cat([b.argmax(dim=1) for b in _predict_batches(model, images, batch_size, model)])


def histogram_scores(labels: Tensor, num_classes: int) -> dict[str, object]:
    """Histogram of int labels ``[N]`` in 0..num_classes−1 and its distance from uniform.

    Returns ``{"class_kl": float ≥ 0 (nats, ≤ log num_classes), "classes_covered": int, "histogram": list[int]}``
    with class_kl = KL(p ‖ uniform) = Σ_{p_c > 0} p_c log(p_c · num_classes), p the normalised histogram (empty
    classes contribute 0), and classes_covered the number of classes present at least once.
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise MetricError(f"num_classes must be an int >= 1, got {num_classes!r}")
    if labels.numel() == 0 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise MetricError(f"labels must be a non-empty set of classes in 0..{num_classes - 1}")
    hist = torch.bincount(labels, minlength=num_classes)
    p = hist[hist > 0].to(torch.float64) / labels.numel()
    kl = max(0.0, float((p * (p * num_classes).log()).sum()))
    return {
        "class_kl": kl,
        "classes_covered": int((hist > 0).sum()),
        "histogram": [int(v) for v in hist],
    }


def classifier_scores(
    model: SmallCNN, images: Tensor, *, num_classes: int = 10, batch_size: int = 500
) -> dict[str, object]:
    """:func:`histogram_scores` of the classes predicted for uint8 images ``[N, C, H, W]``."""
    pred = predict_classes(model, images, batch_size=batch_size)
    if int(pred.max()) >= num_classes:
        raise MetricError(
            f"the classifier predicts class {int(pred.max())}, outside num_classes={num_classes}"
        )
    return histogram_scores(pred, num_classes)


def stacked_modes(model: SmallCNN, images: Tensor, *, batch_size: int = 500) -> dict[str, object]:
    """Stacked MNIST's 1,000 modes (VEEGAN, PacGAN): the digit classifier reads each of the three channels of uint8
    images ``[N, 3, H, W]``, mode = 100·d₁ + 10·d₂ + d₃; :func:`histogram_scores` over the 1,000 modes."""
    images = _check_images(images, "images")
    if images.shape[1] != 3:
        raise MetricError(
            f"Stacked MNIST images have 3 channels (one digit each), got {images.shape[1]}"
        )
    digits = [predict_classes(model, images[:, c : c + 1], batch_size=batch_size) for c in range(3)]
    return histogram_scores(100 * digits[0] + 10 * digits[1] + digits[2], 1000)


@torch.no_grad()
def classifier_features(model: SmallCNN, images: Tensor, *, batch_size: int = 500) -> Tensor:
    """The 128-d hidden features of uint8 images ``[N, C, H, W]``: float32 ``[N, 128]`` on the CPU (for Fréchet)."""
    return torch.cat(_predict_batches(model, images, batch_size, model.features)).float()
