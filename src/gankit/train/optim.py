"""Optimisers. ``sgd`` follows pylearn2's momentum rule, as the paper's code used it:

    v ← μ·v − lr·g;   θ ← θ + v

(PyTorch's SGD keeps v ← μ·v + g and steps −lr·v, which differs whenever lr changes, as it does every update in
the paper's schedule.) ``adam`` is ``torch.optim.Adam``.

On CPU both run as one fused pass over each parameter: torch's fused Adam, and torch's fused SGD kernel
(buf ← μ·buf + (1 − dampening)·g;  θ ← θ − lr'·buf) with buf = v, dampening = 1 + lr and lr' = −1, which is the rule
above. Elsewhere (CUDA, where the foreach path is the one verified under CUDA graphs) they run foreach kernels, or
Adam's fused CUDA kernel.
"""

from __future__ import annotations

from typing import Iterable

import torch

from ..config import OptimConfig


class MomentumSGD(torch.optim.Optimizer):
    """SGD with pylearn2 momentum; state ``velocity`` per parameter (zeros before the first step). ``lr`` and
    ``momentum`` may be floats or 0-d device tensors."""

    def __init__(
        self, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.0
    ) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102  (torch.optim signature)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            velocities = []
            for p in params:
                if "velocity" not in self.state[p]:
                    self.state[p]["velocity"] = torch.zeros_like(p)
                velocities.append(self.state[p]["velocity"])
            grads, lr, momentum = [p.grad for p in params], group["lr"], group["momentum"]
            if _fusable(params, velocities, lr, momentum):  # one pass: v ← μ·v − lr·g; θ ← θ + v
                torch._fused_sgd_(
                    params,
                    grads,
                    velocities,
                    weight_decay=0.0,
                    momentum=momentum,
                    lr=-1.0,
                    dampening=1.0 + lr,
                    nesterov=False,
                    maximize=False,
                    is_first_step=False,
                )
                continue
            torch._foreach_mul_(velocities, momentum)  # one kernel per op for all tensors
            if isinstance(
                lr, torch.Tensor
            ):  # device tensor (CUDA graphs): the value is read at run time
                torch._foreach_sub_(velocities, torch._foreach_mul(grads, lr))
            else:
                torch._foreach_add_(velocities, grads, alpha=-lr)
            torch._foreach_add_(params, velocities)
        return None


def _fusable(params: list[torch.Tensor], velocities: list[torch.Tensor], lr, momentum) -> bool:
    """Whether the fused CPU kernel runs this step: numeric hyper-parameters, every parameter a float CPU tensor
    whose gradient and velocity have its memory layout (the kernel walks all three in the same element order)."""
    return (
        not isinstance(lr, torch.Tensor)
        and not isinstance(momentum, torch.Tensor)
        and all(
            p.device.type == "cpu"
            and p.is_floating_point()
            and p.grad.stride() == p.stride() == v.stride()
            for p, v in zip(params, velocities)
        )
    )


def state_slots(cfg: OptimConfig) -> int:
    """How many tensors the size of each parameter the optimiser keeps once it has stepped: Adam's two moments,
    SGD's velocity."""
    return 2 if cfg.name == "adam" else 1


def build_optimizer(
    cfg: OptimConfig, params: Iterable[torch.nn.Parameter]
) -> torch.optim.Optimizer:
    """The optimiser named by ``cfg.name`` with its initial hyper-parameters (schedules set them per update).
    Adam runs fused when every parameter is on the CPU or on CUDA, else foreach."""
    params = list(params)
    if cfg.name == "sgd":
        return MomentumSGD(params, lr=cfg.lr, momentum=cfg.momentum)
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") for p in params)
    return torch.optim.Adam(
        params,
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        foreach=None if fused else True,
        fused=fused or None,
    )
