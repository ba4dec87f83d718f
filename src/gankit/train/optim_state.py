"""Optimiser state as a checkpoint holds it: the tensors by name (``PREFIX.state.I.KEY``), the rest as JSON, and
back into an optimiser of this process."""

from __future__ import annotations

from typing import Any

import torch

IMPLEMENTATION_FLAGS = ("fused", "foreach", "capturable", "differentiable")


def optimizer_to_flat(
    prefix: str, opt: torch.optim.Optimizer
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimiser's state_dict into tensors (``prefix.state.I.KEY``) and a JSON-able rest."""
    sd = opt.state_dict()
    tensors, plain = {}, {}
    for idx, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.state.{idx}.{key}"] = value
            else:
                plain[f"{idx}.{key}"] = value
    groups = [
        {key: float(v) if isinstance(v, torch.Tensor) else v for key, v in g.items()}
        for g in sd["param_groups"]
    ]
    return tensors, {"param_groups": groups, "state": plain}


def optimizer_from_flat(
    prefix: str, opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> None:
    """Inverse of :func:`optimizer_to_flat`; loads into ``opt`` (tensors move to the parameters' devices)."""
    state: dict[int, dict[str, Any]] = {}
    head = f"{prefix}.state."
    for name, value in tensors.items():
        if name.startswith(head):
            idx, key = name[len(head) :].split(".", 1)
            state.setdefault(int(idx), {})[key] = value
    for name, value in meta["state"].items():
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    # how the optimiser runs (fused, foreach, capturable) belongs to this process, not to the run that saved it
    groups = meta["param_groups"]
    if len(groups) == len(opt.param_groups):
        groups = [
            {**saved, **{k: mine[k] for k in IMPLEMENTATION_FLAGS if k in mine}}
            for saved, mine in zip(groups, opt.param_groups)
        ]
    opt.load_state_dict({"state": state, "param_groups": groups})
    _match_parameter_layouts(opt)


def _match_parameter_layouts(opt: torch.optim.Optimizer) -> None:
    """Give each per-element state tensor (moments, velocity) its parameter's memory layout: tensors come back from
    a checkpoint contiguous, and fused optimiser kernels walk a parameter's state in the parameter's own layout (a
    channels-last weight with contiguous moments is updated wrongly)."""
    for group in opt.param_groups:
        for p in group["params"]:
            for key, value in opt.state.get(p, {}).items():
                if (
                    isinstance(value, torch.Tensor)
                    and value.shape == p.shape
                    and value.stride() != p.stride()
                ):
                    opt.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
