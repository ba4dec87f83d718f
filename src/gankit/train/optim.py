"""Optimisers. ``sgd`` follows pylearn2's momentum rule, as the paper's code used it:

    v ← μ·v − lr·g;   θ ← θ + v

(PyTorch's SGD keeps v ← μ·v + g and steps −lr·v, which differs whenever lr changes, as it does every update in
the paper's schedule.) ``adam`` is ``torch.optim.Adam``.
"""

from __future__ import annotations

from typing import Iterable

import torch

from ..config import OptimConfig


class MomentumSGD(torch.optim.Optimizer):
    """SGD with pylearn2 momentum; state ``velocity`` per parameter (zeros before the first step). ``lr`` and
    ``momentum`` may be floats or 0-d device tensors."""

    def __init__(self, params: Iterable[torch.nn.Parameter], *, lr: float, momentum: float = 0.0) -> None:
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
            grads, lr = [p.grad for p in params], group["lr"]
            torch._foreach_mul_(velocities, group["momentum"])  # one kernel per op for all tensors
            if isinstance(lr, torch.Tensor):  # device tensor (CUDA graphs): the value is read at run time
                torch._foreach_sub_(velocities, torch._foreach_mul(grads, lr))
            else:
                torch._foreach_add_(velocities, grads, alpha=-lr)
            torch._foreach_add_(params, velocities)
        return None


def build_optimizer(cfg: OptimConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The optimiser named by ``cfg.name`` with its initial hyper-parameters (schedules set them per update).
    Multi-tensor steps: foreach kernels, or Adam's fused kernel when every parameter is on CUDA."""
    params = list(params)
    if cfg.name == "sgd":
        return MomentumSGD(params, lr=cfg.lr, momentum=cfg.momentum)
    fused = bool(params) and all(p.is_cuda for p in params)
    return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), foreach=None if fused else True,
                            fused=fused or None)
