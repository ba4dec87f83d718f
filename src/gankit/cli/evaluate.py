"""``gankit eval``: evaluate a run (or an .npz of any program's samples) and write eval.json."""

from __future__ import annotations

import argparse
import sys

from ..errors import GankitError
from .common import Command, checkpoint_arguments, positive


def metric_help() -> list[tuple[str, object]]:
    """(name, entry) of the metric table, for --metrics' help."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..evaluation.table import metric_table

    return list(metric_table().items())


def arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", nargs="?", default=None, help="run folder (or use --samples)")
    p.add_argument("--samples", default=None, help=".npz of samples from any program (key 'x')")
    p.add_argument(
        "--reference",
        default=None,
        help="DATASET:SPLIT, a points source (ring8, grid25, gauss1d), an .npz of images, or an .npz of "
        "Inception statistics (mu, sigma; FID only) (default: the run's data: its test split, or "
        "the whole set when it has none, e.g. a folder or emoji)",
    )
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated, of: " + "; ".join(f"{name} ({m.help})" for name, m in metric_help()),
    )
    p.add_argument(
        "--n", type=int, default=None, help="generated samples (default: each protocol's count)"
    )
    checkpoint_arguments(p)
    _protocol_arguments(p)
    p.add_argument(
        "--compare",
        nargs="+",
        default=None,
        metavar="EVAL.json",
        help="print the figures of two or more eval.json files side by side (and B − A for two); "
        "refused, naming the field, where their protocol stamps differ",
    )
    p.add_argument(
        "--force", action="store_true", help="--compare: print even where the protocols differ"
    )
    p.add_argument(
        "--out",
        default=None,
        help="where to write the JSON (default: RUN/eval.json, which keeps earlier metrics' rows, or "
        "A.eval.json beside --samples A.npz)",
    )
    p.add_argument(
        "--save-reference-stats",
        default=None,
        metavar="OUT.npz",
        help="write the Inception statistics (mu, sigma) of --reference's images (first --n-ref) to "
        "OUT.npz, in the format other FID tools read; alone, or before evaluating",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _protocol_arguments(p: argparse.ArgumentParser) -> None:
    """How the metrics are computed: networks, reference size, seeds, device and precision."""
    p.add_argument(
        "--parzen-sigma",
        type=float,
        default=None,
        help="fix σ instead of selecting it on validation",
    )
    p.add_argument(
        "--inception", default=None, help="TorchScript Inception weights (default: gankit[fid]'s)"
    )
    p.add_argument(
        "--n-ref",
        type=int,
        default=None,
        help="use only the first N reference images (default: all)",
    )
    p.add_argument(
        "--kid-subset",
        type=int,
        default=None,
        help="KID subset size (default: min(1000, generated samples, reference images))",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation noise (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default="fp32",
        help="Inception forward passes: fp32 (default, the reference features) or bf16 autocast (faster "
        "on bf16 hardware; FID/KID then differ from the reference figures)",
    )
    p.add_argument(
        "--resize",
        choices=("tf", "clean"),
        default="tf",
        help="how images reach Inception's 299×299: tf (default; TF 1.x bilinear, the published "
        "figures' resize) or clean (Pillow bicubic with antialiasing, clean-fid's); not comparable",
    )


def _eval_progress(quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bars: dict[str, object] = {}

    def update(what: str, done: int, total: int) -> None:
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(
                total=total, desc=what, unit="img", file=sys.stderr, leave=False
            )
        bar.n = done
        bar.refresh()

    return update, lambda: [b.close() for b in bars.values()]


def _options(args: argparse.Namespace, progress):
    """The evaluation options the arguments ask for, each checked."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..evaluation import EvalOptions
    from ..train.device import resolve_device

    if args.n is not None:
        positive("n", args.n)
    if args.parzen_sigma is not None and not args.parzen_sigma > 0:
        raise GankitError(f"--parzen-sigma must be positive, got {args.parzen_sigma}")
    if args.kid_subset is not None and args.kid_subset < 2:
        raise GankitError(f"--kid-subset must be at least 2, got {args.kid_subset}")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    n_ref = None if args.n_ref is None else positive("n-ref", args.n_ref)
    return EvalOptions(
        metrics=metrics,
        n=args.n,
        reference=args.reference,
        parzen_sigma=args.parzen_sigma,
        inception=args.inception,
        kid_subset=args.kid_subset,
        seed=args.seed,
        n_ref=n_ref,
        device=str(resolve_device(args.device)),
        precision=args.precision,
        resize=args.resize,
        progress=progress,
    )


def _evaluate(args: argparse.Namespace, opts) -> tuple[dict | None, str]:
    """(the evaluation's result, where it was written); (None, "") when only statistics were asked for."""
    # start-up: the command line imports torch and the library only when it needs them
    from ..evaluation import evaluate_run, evaluate_samples, write_reference_stats

    if args.save_reference_stats:
        made = write_reference_stats(args.save_reference_stats, opts)
        print(
            f"wrote {args.save_reference_stats} "
            f"(Inception statistics of {made['reference']}, n = {made['n']})"
        )
        if args.run is None and args.samples is None:
            return None, ""
    if args.samples:
        result = evaluate_samples(args.samples, opts, args.out)
    else:
        result = evaluate_run(args.run, opts, args.checkpoint, args.out)
    return result, result["written"]


def cmd_eval(args: argparse.Namespace) -> int:
    # start-up: the command line imports torch and the library only when it needs them
    from ..evaluation import format_table

    if args.compare:
        # start-up: the command line imports torch and the library only when it needs them
        from ..evaluation.compare import compare_files

        if args.run is not None or args.samples is not None:
            raise GankitError("--compare takes eval.json files only: no run folder or --samples")
        print(compare_files(args.compare, args.force))
        return 0
    if args.force:
        raise GankitError("--force applies to --compare only")
    if (args.run is None) == (args.samples is None) and not args.save_reference_stats:
        raise GankitError("give a run folder or --samples A.npz (exactly one)")
    if args.out and args.run is None and args.samples is None:
        raise GankitError(
            "--out names where an evaluation goes: give a run folder or --samples too"
        )
    if args.run is not None and args.samples is not None:
        raise GankitError("give a run folder or --samples A.npz, not both")
    progress, close = _eval_progress(args.quiet)
    try:
        result, written = _evaluate(args, _options(args, progress))
    finally:
        close()
    if result is None:
        return 0
    print(format_table(result["rows"]))
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"wrote {written}")
    return 0


COMMAND = Command(
    "eval", "evaluate a run (or an .npz of samples) and write eval.json", arguments, cmd_eval
)
