"""How a training step runs fast without changing what it computes (beyond floating-point rounding).

``train.speed``: ``eager`` runs the modules as they are; ``compile`` hands G and D to ``torch.compile`` (the
optimisers, EMA and gradient penalties stay eager: penalties need double backward, which compiled graphs do not
support, so they use the eager D — the same parameters); ``cudagraph`` captures the whole iteration in a CUDA graph
(:mod:`gankit.train.cudagraph`); ``auto`` is eager on CPU (on a 2-core x86-64 CPU compilation cost more than it
saved for short runs; see benchmarks/throughput.py and docs/benchmarks.md) and, on CUDA, cudagraph when the run can be
captured, else compile.
``train.precision: bf16`` wraps forward passes in autocast (losses and master weights stay float32); on a CPU
without bf16 instructions, where it is emulated, the plan warns.
``train.channels_last`` stores convolutional models and image batches channels-last (auto: yes, except under
compile). ``train.tf32`` allows TF32 on CUDA.

The process-wide settings a plan needs (TF32 flags, compiler options) hold only inside :meth:`SpeedPlan.scope`,
which the trainer enters around its steps; afterwards they are what they were.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterator

import torch
from torch import nn

from ..config import TrainConfig
from ..errors import ConfigError
from .algorithm import Players, Stats
from .batches import Batches
from .cudagraph import CapturedStep

log = logging.getLogger(__name__)


def convolutional(*modules: nn.Module) -> bool:
    """Whether any of ``modules`` holds a 2-D (transposed) convolution: the models channels-last is for."""
    return any(
        isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        for module in modules
        for m in module.modules()
    )


@dataclass(frozen=True)
class SpeedPlan:
    """What the trainer does: ``mode`` eager|compile|cudagraph, ``channels_last``, ``precision``, ``tf32`` (CUDA
    only), and why (``reason``); ``fallback``: a graph that fails to compile runs eager (``train.speed=auto``)."""

    mode: str
    channels_last: bool
    precision: str
    device_type: str
    reason: str
    fallback: bool = False
    tf32: bool = True

    def autocast(self) -> ContextManager:
        """Context for forward passes: bf16 autocast when asked for, else nothing. Under CUDA graphs the cast-weight
        cache is off (a cached cast would be replayed stale)."""
        if self.precision == "bf16":
            return torch.autocast(
                self.device_type, dtype=torch.bfloat16, cache_enabled=self.mode != "cudagraph"
            )
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """The process-wide settings the plan needs, held for the block and restored after it: TF32 on CUDA, and
        torch.compile's options under ``compile``."""
        with contextlib.ExitStack() as stack:
            if self.device_type == "cuda":
                stack.enter_context(_tf32(self.tf32))
            if self.mode == "compile":
                stack.enter_context(_compiler_options(self.fallback))
            yield


@contextlib.contextmanager
def _tf32(allowed: bool) -> Iterator[None]:
    """TF32 in CUDA matmuls and cuDNN convolutions allowed or not, for the block."""
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _compiler_options(fallback: bool) -> ContextManager:
    """torch.compile's options for the block (they are read when a graph compiles, on its first call): dropout draws
    the same numbers as eager (exact resume holds); inductor does not switch convolutions to channels-last on its own
    (that failed a stride assertion in convolution backward: torch 2.11, H100, fp32 DCGAN), so layouts stay as
    ``train.channels_last`` set them; ``fallback``: a graph that fails to compile runs eager (dynamo logs why)."""
    import torch._dynamo.config as dynamo_config
    import torch._inductor.config as inductor_config

    stack = contextlib.ExitStack()
    stack.enter_context(inductor_config.patch(fallback_random=True, layout_optimization=False))
    if fallback:
        stack.enter_context(dynamo_config.patch(suppress_errors=True))
    return stack


def plan(
    t: TrainConfig, device: torch.device, conv: bool, cudagraph_blocker: str | None
) -> SpeedPlan:
    """Resolve ``train.speed`` / ``train.channels_last`` for ``device`` and models that are convolutional (``conv``,
    see :func:`convolutional`) or not; the reason is logged. ``cudagraph_blocker``: why this run cannot be captured
    in a CUDA graph (None: it can)."""
    if t.speed == "cudagraph" and cudagraph_blocker:
        raise ConfigError(
            f"train.speed=cudagraph: {cudagraph_blocker}; use train.speed=eager, compile or auto"
        )
    if t.speed == "auto" and device.type == "cuda":
        mode = "compile" if cudagraph_blocker else "cudagraph"
        reason = f"train.speed=auto on cuda: {mode}" + (
            f" (no CUDA graph: {cudagraph_blocker})" if cudagraph_blocker else ""
        )
    elif t.speed == "auto":
        mode, reason = "eager", f"train.speed=auto on {device.type}: eager"
    else:
        mode, reason = t.speed, f"train.speed={t.speed}"
    # auto: channels-last for convolutional models (faster with oneDNN on the CPU, measured by the modes eager and
    # eager+nchw of benchmarks/throughput.py; cuDNN's tensor-core layout), except under torch.compile (torch 2.11's
    # inductor failed a stride assertion in the channels-last convolution backward of DCGAN on an H100)
    channels_last = conv and (
        t.channels_last == "on" or (t.channels_last == "auto" and mode != "compile")
    )
    result = SpeedPlan(
        mode,
        channels_last,
        t.precision,
        device.type,
        reason,
        fallback=t.speed == "auto",
        tf32=t.tf32,
    )
    log.info("speed: %s; precision %s; channels_last %s", reason, t.precision, channels_last)
    if t.precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        log.warning(
            "train.precision=bf16 on a CPU without bf16 instructions (AVX512-BF16 or AMX): bf16 is emulated "
            "there and may run slower than fp32; set train.precision=fp32"
        )
    return result


def cpu_has_bf16() -> bool:
    """Whether this CPU has bf16 instructions (x86-64 AVX512-BF16 or AMX), as torch detects them; True when this
    torch cannot tell (then nothing is claimed)."""
    probes = [
        getattr(torch.cpu, name, None)
        for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    known = [probe for probe in probes if probe is not None]
    return not known or any(probe() for probe in known)


def prepare_module(module: nn.Module, p: SpeedPlan) -> nn.Module:
    """The module to call in the hot loop (same parameters): channels-last and/or compiled as planned."""
    if p.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return torch.compile(module) if p.mode == "compile" else module


def prepare_batch(p: SpeedPlan) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-batch transform of image tensors [m, C, H, W] to the planned memory format (identity otherwise)."""
    if p.channels_last:
        return lambda x: x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
    return lambda x: x


class EagerStep:
    """Runs each iteration as written (``eager`` and ``compile``): ``step(grad_norms)`` → the iteration's stats. The
    interface :class:`~gankit.train.cudagraph.CapturedStep` shares."""

    def __init__(self, iteration: Callable[[bool], Stats]) -> None:
        self.iteration = iteration

    def __call__(self, grad_norms: bool) -> Stats:
        return self.iteration(grad_norms)

    def restored(self) -> None:
        """A restore replaced the models' and optimisers' state: nothing here depends on it."""


def step_runner(
    p: SpeedPlan,
    iteration: Callable[[bool], Stats],
    players: Players,
    k: int,
    batches: Batches,
    generators: list[torch.Generator],
) -> EagerStep | CapturedStep:
    """How the planned mode runs ``iteration``: eagerly, or replayed from a CUDA graph that draws from
    ``generators``."""
    if p.mode == "cudagraph":
        return CapturedStep(players, k, batches, iteration, generators)
    return EagerStep(iteration)
