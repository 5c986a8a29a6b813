"""``dfdetect evaluate --model M --data D1 D2 ... --out DIR``: cross-dataset evaluation.

Each ``--data`` is ``NAME=ROOT[@SPLIT]`` (layout name, crop-tree folder, optional split) or a
bare ROOT (generic ``real``/``fake`` folder layout). Writes predictions, metrics (JSON, CSV),
the cross-dataset and per-source Markdown tables and ROC/PR/score plots.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dfdetect.cli.faces import add_runtime_argument
from dfdetect.cli.flags import given, probability
from dfdetect.evaluate import BOOTSTRAP_RESAMPLES, EVAL_BATCH_SIZE

if TYPE_CHECKING:
    from dfdetect.data.accounting import Accounting


def add_data_arguments(
    parser: argparse.ArgumentParser, default_split: str | None, many_models: bool = False
) -> None:
    """``--model`` and ``--data`` options shared with ``calibrate`` and ``robustness``
    (``many_models``: ``--model`` may be repeated)."""
    parser.add_argument(
        "--model",
        required=True,
        action="append" if many_models else "store",
        help="detector folder, Hub id or tiny-random"
        + ("; repeat to compare, NAME=MODEL names one" if many_models else ""),
    )
    parser.add_argument(
        "--data",
        required=True,
        nargs="+",
        metavar="NAME=ROOT[@SPLIT]",
        help="datasets: layout name = crop-tree folder (e.g. cdfv2=/data/crops/CDFv2@test)",
    )
    parser.add_argument(
        "--split",
        default=default_split,
        help=f"split for entries without @SPLIT (default: {default_split}; 'all' for every video)",
    )
    parser.add_argument("--frames", type=int, default=None, help="at most N frames per video")
    parser.add_argument(
        "--batch-size", type=int, default=None, help=f"crops per model call ({EVAL_BATCH_SIZE})"
    )
    parser.add_argument("--workers", type=int, default=None, help="image-loading processes (0)")
    parser.add_argument("--device", default=None, help="cuda, cuda:1, cpu (default: automatic)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="exit 0 although listed videos are missing, empty or unreadable, or crops "
        "unreadable (they are still counted and named)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect evaluate``."""
    add_data_arguments(parser, "test")
    parser.add_argument("--out", required=True, type=Path, help="report folder")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        help=f"resamples for the 95%% CIs ({BOOTSTRAP_RESAMPLES})",
    )
    parser.add_argument("--seed", type=int, default=None, help="bootstrap seed (0)")
    parser.add_argument(
        "--threshold",
        type=probability,
        default=None,
        help="decision threshold for accuracy (default: the model's calibrated threshold)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_runtime_argument(parser)


def scoring_flags(args: argparse.Namespace) -> dict:
    """``--frames``, ``--batch-size`` and ``--workers`` as given (keyword arguments of
    :func:`dfdetect.evaluate.runner.score_entries`)."""
    return given(args, {"frames": "frames", "batch_size": "batch_size", "workers": "num_workers"})


def scoring_flags_valid(args: argparse.Namespace) -> bool:
    """Whether ``--frames`` and ``--batch-size``, where given, are >= 1."""
    return all(value >= 1 for value in given(args, ("frames", "batch_size")).values())


def load_detector(args: argparse.Namespace, model: str | None = None, runtime: str = "torch"):
    """The ``--model`` detector (or ``model``) on ``--device``, run by ``runtime``."""
    from dfdetect.model.device import check_device
    from dfdetect.model.loading import load_predictor

    check_device(args.device)
    return load_predictor(model or args.model, runtime=runtime, device=args.device).predictor


def data_entries(args: argparse.Namespace) -> list[dict]:
    """``--data`` values as layout entries (``--split`` fills the ones without @SPLIT); an
    empty root raises DatasetError (exit 2)."""
    from dfdetect.data.specs import parse_data_arg

    return [parse_data_arg(text, args.split) for text in args.data]


def dropped_error(command: str, accounts: Sequence[Accounting], allow_missing: bool) -> bool:
    """True (exit 1) when a dataset's accounting dropped videos or crops and ``--allow-missing``
    was not given, which one line on stderr then says."""
    from dfdetect.cli.exits import error

    dropped = [a.dataset for a in accounts if not a.complete]
    if dropped and not allow_missing:
        error(
            command,
            f"{', '.join(dropped)}: videos or crops were left out "
            "(see the lines above; --allow-missing accepts this)",
        )
    return bool(dropped) and not allow_missing


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the cross-dataset table; 1 when a dataset failed, 2 on bad input."""
    from dfdetect.cli.exits import error, fail
    from dfdetect.errors import DfdetectError
    from dfdetect.evaluate.runner import evaluate

    if (args.bootstrap is not None and args.bootstrap < 0) or not scoring_flags_valid(args):
        error("evaluate", "--bootstrap must be >= 0, --batch-size and --frames >= 1")
        return 2
    try:
        entries = data_entries(args)
        result = evaluate(
            load_detector(args, runtime=args.runtime),
            entries,
            args.out,
            threshold=args.threshold,
            plots=not args.no_plots,
            progress=not args.quiet,
            **scoring_flags(args),
            **given(args, {"bootstrap": "n_boot", "seed": "seed"}),
        )
    except (DfdetectError, OSError) as exc:  # exit 3 when the model cannot load
        return fail("evaluate", exc)
    for name, message in result.errors.items():
        error("evaluate", f"{name}: {message}")
    if result.failures:
        print(f"{len(result.failures)} unreadable crops (see {args.out / 'failures.csv'})")
    if not result.report:
        print("\n".join(a.line() for a in result.accounting))
        error("evaluate", "no dataset could be evaluated")
        return 2
    print((args.out / "cross_dataset.md").read_text())
    dropped = dropped_error("evaluate", result.accounting, args.allow_missing)
    print(f"report: {args.out}")
    return 1 if result.errors or dropped else 0
