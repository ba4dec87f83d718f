"""The memory check before G and D are built: their training state must fit in the memory the device has."""

from __future__ import annotations

import torch

from ..config import Config, ModelConfig
from ..data import Dataset
from ..errors import ConfigError
from ..models import parameter_counts
from ..resources import available_memory, gib
from .optim import state_slots

MODEL_SIZE_KEYS = ("z_dim", "hidden", "layers", "width", "blocks", "expansion")


def check_model_memory(
    cfg: Config, dataset: Dataset, num_classes: int, device: torch.device
) -> None:
    """Refuse, before anything is allocated, a G and D (counted on the meta device) whose training state cannot fit
    in the memory ``device`` has available: per parameter 4 bytes each for the weights, the gradients, the optimiser
    moments and a checkpoint's copy, and for G's EMA; per frozen parameter (``requires_grad=False`` as built) the
    weights alone, and the EMA's copy of G's. On CUDA the host must also hold a checkpoint's copies, which leave
    frozen parameters out."""
    c = parameter_counts(
        cfg.model, sample_shape=dataset.sample_shape, kind=dataset.kind, num_classes=num_classes
    )
    if c is None:
        return
    trained, frozen = c.g + c.d, c.g_frozen + c.d_frozen
    ema = cfg.train.ema_half_life_kimg > 0
    held = (3 + state_slots(cfg.optim)) * trained + frozen + (c.g + c.g_frozen if ema else 0)
    needs = [(device, 4 * held)]
    if device.type == "cuda":
        needs.append((torch.device("cpu"), 4 * 2 * (trained + (c.g if ema else 0))))
    for where, need in needs:
        free = available_memory(where)
        if free is not None and need > free:
            also = f" (and {frozen:,} frozen)" if frozen else ""
            raise ConfigError(
                f"{_size_keys(cfg)}: G and D would have {trained:,} trainable parameters{also}, whose "
                f"training needs about {gib(need)} on {where.type}, more than the {gib(free)} available there"
            )


def _size_keys(cfg: Config) -> str:
    """The model's size settings that apply and exceed their defaults, most exceeded first
    (``model.hidden=100000000``); all that apply when none does."""
    inert, defaults = set(cfg.inert_keys()), ModelConfig()
    keys = [k for k in MODEL_SIZE_KEYS if f"model.{k}" not in inert]
    ratio = {k: getattr(cfg.model, k) / getattr(defaults, k) for k in keys}
    big = sorted((k for k in keys if ratio[k] > 1), key=lambda k: -ratio[k]) or keys
    return ", ".join(f"model.{k}={getattr(cfg.model, k)}" for k in big)
