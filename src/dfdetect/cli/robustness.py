"""``dfdetect robustness --model M [--model M2] --data NAME=ROOT[@SPLIT] ... --out DIR``: how
detection holds up under the DeeperForensics-1.0 perturbations and real-world compression.

``--perturb TYPE[:LEVELS]`` picks cells (default ``df``: the seven DeeperForensics-1.0 types at
all five levels); ``--stage crops`` perturbs the aligned crops, ``--stage frames`` the source
frames (or re-encodes the source videos) before face detection.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from dfdetect.cli.evaluate import add_data_arguments, data_entries, dropped_error, load_detector
from dfdetect.cli.flags import given


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect robustness``."""
    from dfdetect.robustness.perturbations import PERTURBATIONS

    add_data_arguments(parser, "test", many_models=True)
    parser.add_argument("--out", required=True, type=Path, help="report folder")
    parser.add_argument(
        "--perturb",
        nargs="+",
        default=None,
        metavar="TYPE[:LEVELS]",
        help=f"cells, e.g. GB JPEGQ:1,3,5; types: {', '.join(PERTURBATIONS)}, df (the seven "
        "DeeperForensics-1.0 types), all (default: df)",
    )
    parser.add_argument(
        "--stage",
        choices=("crops", "frames"),
        default=None,
        help="perturb the aligned crops (default) or the source frames before face detection",
    )
    parser.add_argument("--bootstrap", type=int, default=None, help="resamples for the 95%% CIs")
    parser.add_argument("--seed", type=int, default=None, help="perturbation and bootstrap seed")
    parser.add_argument("--cache", type=Path, default=None, help="score cache (default OUT/cache)")


def options_from(args: argparse.Namespace):
    """The run's :class:`RobustnessOptions`: defaults, overridden by the flags given."""
    from dfdetect.robustness.runner import RobustnessOptions

    flags = {"stage": "stage", "bootstrap": "n_boot", "seed": "seed", "cache": "cache"}
    flags |= {"frames": "frames", "batch_size": "batch_size", "workers": "num_workers"}
    return RobustnessOptions(**given(args, flags), device=args.device, progress=not args.quiet)


def named_models(values: list[str]) -> list[tuple[str, str]]:
    """``--model`` values as (display name, model): ``NAME=MODEL`` names one; otherwise the
    value itself, numbered where it is given twice."""
    from dfdetect.evaluate.runner import distinct_name

    out: list[tuple[str, str]] = []
    for value in values:
        base, sep, model = value.partition("=")
        if not sep:
            base, model = value, value
        out.append((distinct_name(base, [n for n, _ in out], sep="#"), model))
    return out


def run(args: argparse.Namespace) -> int:
    """Run the grid and print the summary; 1 when a dataset failed or dropped videos, 2 on bad
    input, 3 when a model cannot load, 4 when the device is absent."""
    from dfdetect.cli.exits import error, fail
    from dfdetect.errors import DfdetectError
    from dfdetect.robustness.h264 import has_libx264
    from dfdetect.robustness.perturbations import parse_perturb_arg
    from dfdetect.robustness.report import summary_markdown, write_report
    from dfdetect.robustness.runner import run_robustness

    options = options_from(args)
    if options.n_boot < 0 or options.batch_size < 1 or (options.frames or 1) < 1:
        error("robustness", "--bootstrap must be >= 0, --batch-size and --frames >= 1")
        return 2
    try:
        cells = [c for text in (args.perturb or ["df"]) for c in parse_perturb_arg(text)]
    except ValueError as exc:
        error("robustness", str(exc))
        return 2
    if any(c.perturbation.video for c in cells if c.perturbation) and not has_libx264():
        error("robustness", "this PyAV's FFmpeg has no libx264 encoder (VC, H264)")
        return 2
    try:
        entries = data_entries(args)
        models = [(name, load_detector(args, model)) for name, model in named_models(args.model)]
        result = run_robustness(models, entries, cells, args.out, options)
    except DfdetectError as exc:  # 3: a model cannot load, 4: the device is absent
        return fail("robustness", exc)
    for name, message in result.errors.items():
        error("robustness", f"{name}: {message}")
    failed = (
        (row["dataset"], path, reason)
        for row in result.rows
        for path, reason in row.get("failed_videos", [])
    )
    for dataset, path, reason in dict.fromkeys(failed):  # once, not once per model
        error("robustness", f"{dataset}: {path}: {reason}")
    if not result.rows:
        error("robustness", "no dataset could be evaluated")
        return 2
    settings = {**asdict(options), "models": args.model, "data": args.data, "cells": len(cells)}
    accounts = list(result.accounting.values())
    write_report(result.rows, args.out, settings, accounts)
    print(summary_markdown(result.rows))
    print("\n".join(a.line() for a in accounts))
    dropped = dropped_error("robustness", accounts, args.allow_missing)
    print(f"report: {args.out} (robustness.md, robustness.csv, robustness.json, plots/, examples/)")
    return 1 if result.errors or dropped else 0
