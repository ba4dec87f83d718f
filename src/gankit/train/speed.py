"""How a training step runs fast without changing what it computes (beyond floating-point rounding).

``train.speed``: ``eager`` runs the modules as they are; ``compile`` hands G and D to ``torch.compile`` (the
optimisers, EMA and gradient penalties stay eager: penalties need double backward, which compiled graphs do not
support, so they use the eager D — the same parameters); ``cudagraph`` captures the whole iteration in a CUDA graph
(:mod:`gankit.train.cudagraph`); ``auto`` is eager on CPU (on a 2-core x86-64 CPU compilation cost more than it
saved for short runs; see benchmarks/throughput.py and docs/benchmarks.md) and, on CUDA, cudagraph when the run can be
captured, else compile.
``train.precision: bf16`` wraps forward passes in autocast (losses and master weights stay float32).
``train.channels_last`` stores convolutional models and image batches channels-last (auto: yes, except under
compile).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
from torch import nn

from ..config import TrainConfig
from ..errors import ConfigError

log = logging.getLogger(__name__)


def convolutional(*modules: nn.Module) -> bool:
    """Whether any of ``modules`` holds a 2-D (transposed) convolution: the models channels-last is for."""
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for module in modules for m in module.modules())


@dataclass(frozen=True)
class SpeedPlan:
    """What the trainer does: ``mode`` eager|compile|cudagraph, ``channels_last``, ``autocast`` factory, and why."""

    mode: str
    channels_last: bool
    precision: str
    device_type: str
    reason: str
    fallback: bool = False

    def autocast(self) -> ContextManager:
        """Context for forward passes: bf16 autocast when asked for, else nothing. Under CUDA graphs the cast-weight
        cache is off (a cached cast would be replayed stale)."""
        if self.precision == "bf16":
            return torch.autocast(self.device_type, dtype=torch.bfloat16, cache_enabled=self.mode != "cudagraph")
        return contextlib.nullcontext()


def plan(t: TrainConfig, device: torch.device, conv: bool, cudagraph_blocker: str | None) -> SpeedPlan:
    """Resolve ``train.speed`` / ``train.channels_last`` for ``device`` and models that are convolutional (``conv``,
    see :func:`convolutional`) or not; the reason is logged. ``cudagraph_blocker``: why this run cannot be captured
    in a CUDA graph (None: it can)."""
    if t.speed == "cudagraph" and cudagraph_blocker:
        raise ConfigError(f"train.speed=cudagraph: {cudagraph_blocker}; use train.speed=eager, compile or auto")
    if t.speed == "auto" and device.type == "cuda":
        mode = "compile" if cudagraph_blocker else "cudagraph"
        reason = f"train.speed=auto on cuda: {mode}" + (f" (no CUDA graph: {cudagraph_blocker})"
                                                        if cudagraph_blocker else "")
    elif t.speed == "auto":
        mode, reason = "eager", f"train.speed=auto on {device.type}: eager"
    else:
        mode, reason = t.speed, f"train.speed={t.speed}"
    # auto: channels-last for convolutional models (faster with oneDNN on the CPU, measured by the modes eager and
    # eager+nchw of benchmarks/throughput.py; cuDNN's tensor-core layout), except under torch.compile (torch 2.11's
    # inductor failed a stride assertion in the channels-last convolution backward of DCGAN on an H100)
    channels_last = conv and (t.channels_last == "on" or (t.channels_last == "auto" and mode != "compile"))
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = t.tf32
        torch.backends.cudnn.allow_tf32 = t.tf32
    result = SpeedPlan(mode, channels_last, t.precision, device.type, reason, fallback=t.speed == "auto")
    log.info("speed: %s; precision %s; channels_last %s", reason, t.precision, channels_last)
    return result


def prepare_module(module: nn.Module, p: SpeedPlan) -> nn.Module:
    """The module to call in the hot loop (same parameters): channels-last and/or compiled as planned."""
    if p.channels_last:
        module = module.to(memory_format=torch.channels_last)
    if p.mode == "compile":
        import torch._dynamo.config as dynamo_config
        import torch._inductor.config as inductor_config

        if p.fallback:  # speed=auto: a graph that fails to compile runs eager (dynamo logs why)
            dynamo_config.suppress_errors = True

        inductor_config.fallback_random = True  # dropout draws the same numbers as eager (exact resume holds)
        # inductor's own switch of convolutions to channels-last failed a stride assertion in convolution backward
        # (torch 2.11, H100, fp32 DCGAN); layouts stay as train.channels_last set them
        inductor_config.layout_optimization = False
        return torch.compile(module)
    return module


def prepare_batch(p: SpeedPlan) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-batch transform of image tensors [m, C, H, W] to the planned memory format (identity otherwise)."""
    if p.channels_last:
        return lambda x: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    return lambda x: x
