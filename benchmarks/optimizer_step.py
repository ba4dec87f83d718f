"""Time of one optimiser step over real models' parameters: gankit's fused CPU path against the multi-tensor
(foreach) path it replaced, for the paper's SGD (pylearn2 momentum) and for Adam.

Models: the paper's MNIST G + D (3.74 M parameters) and DCGAN-64's G + D (6.34 M). Gradients are random
(the step's cost does not depend on their values). MomentumSGD takes its foreach path when lr and momentum are
tensors, as under CUDA graphs; Adam's is ``torch.optim.Adam(foreach=True)``. The variants take turns; each figure
is the median of ``--repeats`` timings of ``--steps`` steps.

    python benchmarks/optimizer_step.py [--models paper-mlp dcgan64] [--steps 50] [--repeats 5] [--threads T]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from gankit.config import from_dict
from gankit.models import build_models
from gankit.train.optim import MomentumSGD

MODELS = {
    "paper-mlp": ({"arch": "paper-mlp"}, (1, 28, 28)),
    "dcgan64": ({"arch": "dcgan", "z_dim": 100, "prior": "normal"}, (3, 64, 64)),
}


def _parameters(model: str) -> list[torch.nn.Parameter]:
    sections, shape = MODELS[model]
    G, D = build_models(
        from_dict({"model": sections, "train": {"steps": 1}}).model,
        sample_shape=shape,
        kind="image",
    )
    params = [*G.parameters(), *D.parameters()]
    gen = torch.Generator().manual_seed(0)
    for p in params:
        p.grad = torch.randn(p.shape, generator=gen)
    return params


def _variants(model: str) -> dict[str, torch.optim.Optimizer]:
    """Each optimiser steps its own copy of the parameters."""
    return {
        "sgd foreach": MomentumSGD(
            _parameters(model), lr=torch.tensor(0.1), momentum=torch.tensor(0.5)
        ),
        "sgd fused": MomentumSGD(_parameters(model), lr=0.1, momentum=0.5),
        "adam foreach": torch.optim.Adam(
            _parameters(model), lr=2e-4, betas=(0.5, 0.999), foreach=True
        ),
        "adam fused": torch.optim.Adam(_parameters(model), lr=2e-4, betas=(0.5, 0.999), fused=True),
    }


def _time(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; ms per step, median of {args.repeats}"
    )
    for model in args.models:
        variants = _variants(model)
        count = sum(p.numel() for p in variants["sgd fused"].param_groups[0]["params"])
        for opt in variants.values():
            opt.step()  # state allocated outside the timing
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, opt in variants.items():
                times[name].append(_time(opt.step, args.steps))
        ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
        print(
            f"{model} ({count / 1e6:.2f} M parameters): "
            + ", ".join(f"{n} {v:.3f}" for n, v in ms.items())
            + f"; foreach/fused: sgd {ms['sgd foreach'] / ms['sgd fused']:.2f}, "
            f"adam {ms['adam foreach'] / ms['adam fused']:.2f}"
        )


if __name__ == "__main__":
    main()
