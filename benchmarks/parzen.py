"""Throughput of the Parzen-window evaluation (Goodfellow et al., 2014, Table 1 protocol).

Times, on CPU (and CUDA when present), with random float64 data in [0, 1]:
- ``parzen_log_likelihood``: 10,000 centres × 10,000 test points × 784 dims (the paper's MNIST sizes);
- ``parzen_protocol``: σ selected from 10 values on 1,000 validation points, then the 10,000 test points;
- a naive baseline in the same run: one unchunked float64 ``cdist`` + ``logsumexp`` on a 2,000 × 2,000 subset,
  compared by throughput in (test point, centre) pairs per second.

Run: ``python benchmarks/parzen.py`` (``--n 2000`` for a quick look).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from gankit.metrics.parzen import parzen_log_likelihood, parzen_protocol


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device) -> tuple[float, object]:
    _sync(device)
    start = time.perf_counter()
    out = fn()
    _sync(device)
    return time.perf_counter() - start, out


def naive_parzen(centres: torch.Tensor, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Baseline: the whole distance matrix at once, then a log-sum-exp."""
    n, d = centres.shape
    a = -torch.cdist(x, centres).square() / (2 * sigma**2)
    return torch.logsumexp(a, dim=1) - math.log(n) - d / 2 * math.log(2 * math.pi * sigma**2)


def bench(device: torch.device, n: int, n_val: int, d: int, n_naive: int) -> None:
    gen = torch.Generator().manual_seed(0)
    centres = torch.rand(n, d, generator=gen, dtype=torch.float64).to(device)
    x_test = torch.rand(n, d, generator=gen, dtype=torch.float64).to(device)
    x_val = torch.rand(n_val, d, generator=gen, dtype=torch.float64).to(device)
    sigma = 0.2
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    print(f"[{device}{threads}]")

    parzen_log_likelihood(centres[:200], x_test[:200], sigma)  # warm-up (kernels, allocator)
    naive_parzen(centres[:200], x_test[:200], sigma)

    t_eval, ll = _timed(lambda: parzen_log_likelihood(centres, x_test, sigma), device)
    pairs = n * n
    print(
        f"  parzen_log_likelihood {n:,} centres x {n:,} points x {d} dims: {t_eval:.2f} s, "
        f"{n / t_eval:,.0f} points/s, {pairs / t_eval / 1e6:,.1f} M pairs/s"
    )

    t_proto, res = _timed(lambda: parzen_protocol(centres, x_val, x_test), device)
    print(
        f"  parzen_protocol (10 sigmas on {n_val:,} val + {n:,} test): {t_proto:.2f} s, "
        f"{(n_val + n) / t_proto:,.0f} points/s (sigma={res.sigma:.4f}, mean LL={res.mean:.1f} ± {res.sem:.1f})"
    )

    m = min(n_naive, n)
    t_naive, ll_naive = _timed(lambda: naive_parzen(centres[:m], x_test[:m], sigma), device)
    t_chunk, ll_chunk = _timed(
        lambda: parzen_log_likelihood(centres[:m], x_test[:m], sigma), device
    )
    err = ((ll_chunk - ll_naive).abs() / ll_naive.abs()).max().item()
    naive_rate, full_rate = m * m / t_naive, pairs / t_eval
    print(
        f"  naive cdist+logsumexp {m:,} x {m:,}: {t_naive:.2f} s, {naive_rate / 1e6:,.1f} M pairs/s; "
        f"chunked on the same subset: {t_chunk:.2f} s (max rel diff {err:.1e})"
    )
    print(
        f"  ratio chunked/naive throughput: {full_rate / naive_rate:.2f}x at {n:,}^2, "
        f"{t_naive / t_chunk:.2f}x on the {m:,}^2 subset; "
        f"naive memory at {n:,}^2 would be {n * n * 8 * 2 / 2**30:.1f} GiB"
    )
    del ll


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000, help="centres and test points (default 10,000)")
    p.add_argument(
        "--val", type=int, default=1_000, help="validation points for σ selection (default 1,000)"
    )
    p.add_argument("--dim", type=int, default=784)
    p.add_argument(
        "--naive",
        type=int,
        default=2_000,
        help="side of the naive baseline's subset (default 2,000)",
    )
    args = p.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        bench(device, args.n, args.val, args.dim, args.naive)


if __name__ == "__main__":
    main()
