"""``gankit`` command line: thin commands over the library (train, sample, eval, datasets, config, playground).

Errors print one line and exit non-zero; ``GANKIT_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path

from .errors import GankitError, TrainingInterrupted

EXIT_ERROR, EXIT_INTERRUPTED = 1, 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gankit", description="Generative Adversarial Nets, exact, fast and safe.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a GAN (default preset: quickstart)")
    t.add_argument("config", nargs="?", default=None, help="preset name or CONFIG.yaml (default: quickstart)")
    t.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=500 (repeatable)")
    t.add_argument("--data", default=None, metavar="SOURCE",
                   help="train on this data source, e.g. folder:~/pictures or points:my.csv (data.name; see "
                        "`gankit datasets`)")
    t.add_argument("--run-dir", default=None, help="run folder (default: runs/NAME-YYYYmmdd-HHMMSS)")
    t.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="overrides train.device")
    t.add_argument("--data-dir", default=None, help="folder looked in first for dataset files (data.data_dir)")
    t.add_argument("--download", action="store_true", help="fetch missing official dataset files (data.download)")
    t.add_argument("--strict", action="store_true",
                   help="folder: data: an unreadable image is an error instead of being skipped (data.strict)")
    t.add_argument("--resume", metavar="RUN_DIR", default=None,
                   help="continue a run from its newest readable checkpoint")
    t.add_argument("--restart", action="store_true",
                   help="with --resume: start the run again from step 0 instead, its old history (checkpoints, "
                        "metrics, pictures) moved into RUN_DIR/before-restart-N/")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=int, default=None,
                   help="data-parallel processes on this machine, launched through torchrun (one per GPU)")

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder")
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")
    s.add_argument("--checkpoint", default="latest", help="latest (default) or a step number")
    s.add_argument("--out", default=None, help="PNG path (image grid, or a plot for points); default RUN/sample.png")
    s.add_argument("--npz", default=None,
                   help="also write the samples (key 'x'; labels 'y' if conditional) to this .npz")
    s.add_argument("--class", dest="label", type=int, default=None,
                   help="conditional runs: draw only this class (default: classes in turn, one grid column each)")

    e = sub.add_parser("eval", help="evaluate a run (or an .npz of samples) and write eval.json")
    e.add_argument("run", nargs="?", default=None, help="run folder (or use --samples)")
    e.add_argument("--samples", default=None, help=".npz of samples from any program (key 'x')")
    e.add_argument("--reference", default=None,
                   help="DATASET:SPLIT, a points source (ring8, grid25, gauss1d), an .npz of images, or an .npz of "
                        "Inception statistics (mu, sigma; FID only) (default: the run's data: its test split, or "
                        "the whole set when it has none, e.g. a folder or emoji)")
    e.add_argument("--metrics", default=None,
                   help="comma-separated: parzen,fid,kid,pr,dc,classifier,is,modes,jsd (is needs --inception with "
                        "a classifier layer; modes: toy mixtures and Stacked MNIST)")
    e.add_argument("--n", type=int, default=None, help="generated samples (default: each protocol's count)")
    e.add_argument("--checkpoint", default="latest", help="latest (default) or a step number")
    e.add_argument("--parzen-sigma", type=float, default=None, help="fix σ instead of selecting it on validation")
    e.add_argument("--inception", default=None, help="TorchScript Inception weights (default: gankit[fid]'s)")
    e.add_argument("--n-ref", type=int, default=None, help="use only the first N reference images (default: all)")
    e.add_argument("--kid-subset", type=int, default=1000, help="KID subset size (default 1000)")
    e.add_argument("--seed", type=int, default=0, help="seed of the evaluation noise (default 0)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    e.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="Inception forward passes: fp32 (default, the reference features) or bf16 autocast (faster "
                        "on bf16 hardware; FID/KID then differ from the reference figures)")
    e.add_argument("--out", default=None, help="with --samples: where to write the JSON")
    e.add_argument("--save-reference-stats", default=None, metavar="OUT.npz",
                   help="write the Inception statistics (mu, sigma) of --reference's images (first --n-ref) to "
                        "OUT.npz, in the format other FID tools read; alone, or before evaluating")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    f = sub.add_parser("figures", help="write the run's figures (PNG/GIF) into RUN/figures/")
    f.add_argument("run", help="run folder")
    r = sub.add_parser("report", help="write RUN/report.html, one self-contained page")
    r.add_argument("run", help="run folder")

    d = sub.add_parser("datasets", help="list data sources, whether each is present, where and its size")
    d.add_argument("--data-dir", default=None, help="also look in this folder")

    g = sub.add_parser("playground", help="web page to watch and steer training of 1-D/2-D GANs live")
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    g.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    g.add_argument("--runs-dir", default="playground-runs",
                   help="folder 'save as run' writes run folders into (default ./playground-runs)")
    g.add_argument("--idle-timeout", type=float, default=60.0,
                   help="seconds a session without open tabs keeps training before it is freed (default 60)")
    g.add_argument("--allow-host", dest="allow_hosts", action="append", default=[], metavar="NAME",
                   help="another name the page may be opened under, e.g. this machine's LAN name (repeatable)")
    g.add_argument("--no-token", dest="token", action="store_false",
                   help="do not require the URL's secret token (loopback --host only)")

    c = sub.add_parser("config", help="print a preset's resolved config as YAML")
    c.add_argument("config", nargs="?", default=None, help="preset name or CONFIG.yaml (default: quickstart)")
    c.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--keys", action="store_true",
                   help="print every config key with its type, default, allowed values and meaning (Markdown)")
    return p


def _positive(name: str, value: int) -> int:
    if value < 1:
        raise GankitError(f"--{name} must be at least 1, got {value}")
    return value


# ------------------------------------------------------------------------------------------------------- train

def _progress_bar(quiet: bool):
    """A tqdm bar fed by the trainer's progress callback (CLI only, docs/design.md, 'Errors and logging')."""
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    state = {"bar": None}

    def update(trainer, row) -> None:
        bar = state["bar"]
        if bar is None:
            bar = state["bar"] = tqdm(total=trainer.total_steps(), initial=trainer.step - 1, unit="step",
                                      dynamic_ncols=True, file=sys.stderr)
        bar.update(1)
        if row is not None:
            bar.set_postfix(d_loss=f"{row['d_loss']:.3f}", g_loss=f"{row['g_loss']:.3f}",
                            D_x=f"{row['d_real']:.2f}", D_Gz=f"{row['d_fake']:.2f}", refresh=False)

    def close() -> None:
        if state["bar"] is not None:  # not truthiness: a bar without a total (a time budget) refuses bool()
            state["bar"].close()

    return update, close


def _default_run_dir(config: str | None) -> str:
    """runs/NAME-YYYYmmdd-HHMMSS, NAME the preset's or the YAML file's stem."""
    name = Path(config).stem if config else "quickstart"
    return os.path.join("runs", f"{name}-{time.strftime('%Y%m%d-%H%M%S')}")


def _train_overrides(args: argparse.Namespace) -> list[str]:
    """The --set overrides plus those the short options stand for (--data, --device, --data-dir, ...)."""
    overrides = list(args.overrides)
    if args.data is not None:
        if any(o.strip().startswith("data.name") for o in overrides):
            raise GankitError("give the data source once: --data SOURCE or --set data.name=SOURCE")
        overrides.append(f"data.name={args.data}")
    shorts = [(args.device, f"train.device={args.device}"), (args.data_dir, f"data.data_dir={args.data_dir}"),
              (args.download, "data.download=true"), (args.strict, "data.strict=true")]
    return overrides + [override for given, override in shorts if given]


def _launch(args: argparse.Namespace, argv: list[str]) -> int:
    """Re-run this ``gankit train`` command under torchrun with ``--nproc`` processes (a fixed run folder, so every
    rank uses the same one)."""
    import subprocess

    n = _positive("nproc", args.nproc)
    rest, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            rest.append(a)
    if not args.resume and not args.run_dir:
        rest += ["--run-dir", _default_run_dir(args.config)]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
               "-m", "gankit", *rest]
    print(f"launching: {' '.join(command)}", file=sys.stderr)
    return subprocess.run(command).returncode


def cmd_train(args: argparse.Namespace) -> int:
    from .config import load_config
    from .train import Trainer

    if args.nproc is not None:
        return _launch(args, args.argv)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not (args.run_dir or args.resume):
        raise GankitError("under torchrun, pass --run-dir (or use gankit train --nproc N) so all ranks share one "
                          "run folder")
    progress, close = _progress_bar(args.quiet or rank > 0)
    if args.resume:
        if args.config or args.run_dir or args.data_dir or args.download or args.strict or args.data:
            raise GankitError("--resume takes the run's own config; pass only --set train.<stop or interval>=...")
        trainer = Trainer.resume(args.resume, _train_overrides(args), progress=progress, restart=args.restart)
    elif args.restart:
        raise GankitError("--restart goes with --resume RUN_DIR (it restarts that run)")
    else:
        cfg = load_config(args.config, _train_overrides(args))
        trainer = Trainer(cfg, args.run_dir or _default_run_dir(args.config), progress=progress)
        for line in cfg.inert_settings():
            print(f"gankit: warning: {line}", file=sys.stderr)
    if rank == 0:
        print(f"data: {trainer.dataset.summary(trainer.cfg.data.split)}", file=sys.stderr)
        print(f"run folder: {trainer.run_dir}  device: {trainer.device}  start step: {trainer.step}"
              + (f"  processes: {world}" if world > 1 else ""), file=sys.stderr)
    from .train import distributed

    try:
        row = trainer.fit()
    except BaseException:
        distributed.shutdown(wait=False)
        raise
    finally:
        close()
    distributed.shutdown()
    if row and rank == 0:
        print(f"done: step {row['step']}, {row['nimg']:,} images, {row['time_s']:.1f} s; "
              f"D(x) {row['d_real']:.3f}  D(G(z)) {row['d_fake']:.3f}; samples in {trainer.run_dir / 'samples'}")
    return 0


# ------------------------------------------------------------------------------------------------------ sample

def _npz_bytes(arrays: dict) -> bytes:
    """A .npz of ``arrays`` (name → array), byte-for-byte reproducible (fixed zip timestamps, unlike numpy.savez)."""
    import numpy as np

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            payload = io.BytesIO()
            np.lib.format.write_array(payload, np.ascontiguousarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), payload.getvalue())
    return out.getvalue()


def cmd_sample(args: argparse.Namespace) -> int:
    from .train.restore import labels_for, load_generator, sample

    n = _positive("n", args.n)
    G, dataset_kind, real = load_generator(Path(args.run), args.checkpoint)
    labels = labels_for(G, n, args.label)
    x = sample(G, n, args.seed, labels=labels)
    from .data import to_uint8
    from .fileio import write_atomic
    from .viz.grids import grid_image, png_bytes, points_plot

    out = Path(args.out) if args.out else Path(args.run) / "sample.png"
    what = f"{n} samples, seed {args.seed}" + (f", class {args.label}" if args.label is not None else "")
    if dataset_kind == "image":
        per_class_columns = G.num_classes if G.num_classes and args.label is None else None
        write_atomic(out, png_bytes(grid_image(to_uint8(x, G.value_range), nrow=per_class_columns)))
    else:
        write_atomic(out, points_plot(x, real, title=what))
    print(f"wrote {out} ({what})")
    if args.npz:
        arrays = {"x": to_uint8(x, G.value_range).numpy() if dataset_kind == "image" else x.numpy()}
        if labels is not None:
            arrays["y"] = labels.numpy()
        write_atomic(Path(args.npz), _npz_bytes(arrays))
        print(f"wrote {args.npz}")
    return 0


# -------------------------------------------------------------------------------------------------------- eval

def _eval_progress(quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bars: dict[str, object] = {}

    def update(what: str, done: int, total: int) -> None:
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(total=total, desc=what, unit="img", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    return update, lambda: [b.close() for b in bars.values()]


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import EvalOptions, evaluate_run, evaluate_samples, format_table, write_reference_stats
    from .train import resolve_device

    if (args.run is None) == (args.samples is None) and not args.save_reference_stats:
        raise GankitError("give a run folder or --samples A.npz (exactly one)")
    if args.run is not None and args.samples is not None:
        raise GankitError("give a run folder or --samples A.npz, not both")
    if args.n is not None:
        _positive("n", args.n)
    if args.parzen_sigma is not None and not args.parzen_sigma > 0:
        raise GankitError(f"--parzen-sigma must be positive, got {args.parzen_sigma}")
    progress, close = _eval_progress(args.quiet)
    opts = EvalOptions(metrics=[m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None,
                       n=args.n, reference=args.reference, parzen_sigma=args.parzen_sigma, inception=args.inception,
                       kid_subset=_positive("kid-subset", args.kid_subset), seed=args.seed,
                       n_ref=None if args.n_ref is None else _positive("n-ref", args.n_ref),
                       device=str(resolve_device(args.device)), precision=args.precision, progress=progress)
    try:
        if args.save_reference_stats:
            made = write_reference_stats(args.save_reference_stats, opts)
            print(f"wrote {args.save_reference_stats} (Inception statistics of {made['reference']}, n = {made['n']})")
            if args.run is None and args.samples is None:
                return 0
        if args.samples:
            result = evaluate_samples(args.samples, opts, args.out)
            written = result["written"]
        else:
            result = evaluate_run(args.run, opts, args.checkpoint)
            written = str(Path(args.run) / "eval.json")
    finally:
        close()
    print(format_table(result["rows"]))
    for note in result["notes"]:
        print(f"note: {note}")
    print(f"wrote {written}")
    return 0


# ------------------------------------------------------------------------------------------- figures, report

def cmd_figures(args: argparse.Namespace) -> int:
    from .figures import make_figures

    for path in make_figures(Path(args.run)):
        print(f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .figures import make_report

    print(f"wrote {make_report(Path(args.run))}")
    return 0


# -------------------------------------------------------------------------------------------------- playground

def cmd_playground(args: argparse.Namespace) -> int:
    from .playground import serve

    if not 0 <= args.port <= 65535:
        raise GankitError(f"--port must be 0..65535, got {args.port}")
    if not args.idle_timeout > 0:
        raise GankitError(f"--idle-timeout must be positive, got {args.idle_timeout}")
    serve(args.host, args.port, Path(args.runs_dir), args.idle_timeout, tuple(args.allow_hosts), args.token,
          announce=lambda url: print(f"gankit playground: {url}  (Ctrl-C to stop)", flush=True))
    return 0


# ---------------------------------------------------------------------------------------------- datasets, config

def cmd_datasets(args: argparse.Namespace) -> int:
    from .config import DataConfig
    from .data import sources

    rows = []
    for s in sources():
        if s.takes_path:
            rows.append((f"{s.name}:PATH", "-", "your own files", s.summary))
            continue
        status = s.locate(DataConfig(name=s.name, data_dir=args.data_dir), "")
        rows.append((s.name, "yes" if status.present else "no", status.where, status.size or s.summary))
    widths = [max(len(r[i]) for r in rows + [("source", "present", "where", "size")]) for i in range(3)]
    print(f"{'source':<{widths[0]}}  {'present':<{widths[1]}}  {'where':<{widths[2]}}  size / description")
    for r in rows:
        print(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from .config import load_config, to_yaml

    if args.keys:
        from .config_doc import keys_markdown

        sys.stdout.write(keys_markdown())
        return 0
    cfg = load_config(args.config, args.overrides)
    inert = cfg.inert_keys()
    for line in cfg.inert_settings():
        print(f"gankit: warning: {line}", file=sys.stderr)
    sys.stdout.write(to_yaml(cfg, skip=inert))
    if inert:
        print(f"# not shown, no effect in this config: {', '.join(inert)}")
    return 0


COMMANDS = {"train": cmd_train, "sample": cmd_sample, "eval": cmd_eval, "figures": cmd_figures,
            "report": cmd_report, "datasets": cmd_datasets, "config": cmd_config, "playground": cmd_playground}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="gankit: %(levelname)s: %(message)s")
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingInterrupted as e:
        print(f"gankit: {e}", file=sys.stderr)
        return e.exit_code
    except (GankitError, ValueError, OSError) as e:
        if os.environ.get("GANKIT_DEBUG") == "1":
            traceback.print_exc()
        message = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"gankit: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
