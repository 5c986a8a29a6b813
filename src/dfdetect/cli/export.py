"""``dfdetect export MODEL --format onnx [--int8] --out DIR``: a model folder that runs on ONNX
Runtime (``--model DIR`` everywhere, ``dfdetect.model.loading.load_predictor(DIR)``).

``--int8`` quantises the weights dynamically and reports what it costs: the drift against the
fp32 model on probe images always, and with ``--check-data`` the AUROC change on that data; a
graph losing more than ``--max-auroc-drop`` is not written unless ``--force``. The graph is
checked in a staging folder and ``--out`` appears only once it passed: an interrupt (Ctrl-C)
or a refusal leaves nothing.

Exit codes: 0 written, 2 bad arguments or data, 3 the model could not be loaded, 4 the export
failed or lost too much accuracy (nothing written).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

EXIT_OK, EXIT_USAGE, EXIT_MODEL, EXIT_EXPORT = 0, 2, 3, 4
MAX_AUROC_DROP = 0.005


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect export``."""
    parser.add_argument("model", help="Hub id, local folder or file, or 'tiny-random'")
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="(default: onnx)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (new or empty)")
    parser.add_argument("--int8", action="store_true", help="dynamic int8 weight quantisation")
    parser.add_argument(
        "--check-data",
        nargs="+",
        default=None,
        metavar="NAME=ROOT[@SPLIT]",
        help="crop datasets to measure the AUROC change on (as in dfdetect evaluate --data)",
    )
    parser.add_argument("--frames", type=int, default=8, help="frames per video for the check")
    parser.add_argument(
        "--max-auroc-drop",
        type=float,
        default=MAX_AUROC_DROP,
        help=f"refuse graphs losing more AUROC than this (default {MAX_AUROC_DROP})",
    )
    parser.add_argument("--force", action="store_true", help="write it whatever it loses")


def auroc_change(detector, exported, texts: list[str], frames: int) -> dict[str, float]:
    """Frame-level AUROC of ``detector`` and ``exported`` on the ``--check-data`` crops."""
    from dfdetect.data.specs import parse_data_arg
    from dfdetect.evaluate.metrics import binary_metrics
    from dfdetect.evaluate.runner import score_entries

    entries = [parse_data_arg(text, "all") for text in texts]
    aurocs = {}
    for name, model in (("reference", detector), ("exported", exported)):
        data = score_entries(model, entries, frames=frames, progress=False)
        if data.errors or data.frames.empty:
            raise ValueError(f"--check-data: {data.errors or 'no crops scored'}")
        aurocs[name] = float(binary_metrics(data.frames["label"], data.frames["score"])["auroc"])
    return {**aurocs, "drop": aurocs["reference"] - aurocs["exported"]}


class _Refused(Exception):
    """The check refused the staged graph: ``code`` is the exit code, the message says why."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _error(message: str) -> None:
    print(f"dfdetect export: error: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Export, measure, keep or refuse; prints a JSON report."""
    from dfdetect.errors import DfdetectError
    from dfdetect.model.export import export_onnx
    from dfdetect.model.loading import load_predictor
    from dfdetect.model.onnx_detector import OnnxDetector

    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        _error(f"--out {args.out} exists and is not an empty folder")
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tiny-random.*")
            loaded = load_predictor(args.model, runtime=None, device="cpu", dtype="float32")
            detector = loaded.detector
    except DfdetectError as exc:
        _error(str(exc))
        return EXIT_MODEL
    if isinstance(detector, OnnxDetector):
        _error(f"{args.model} is already an ONNX export")
        return EXIT_USAGE
    report: dict = {"out": str(args.out), "int8": args.int8}

    def check(exported, drift: dict[str, float]) -> None:
        report["drift"] = drift
        if not args.check_data:
            return
        try:
            report["auroc"] = auroc_change(detector, exported, args.check_data, args.frames)
        except (DfdetectError, ValueError) as exc:
            raise _Refused(EXIT_USAGE, str(exc)) from exc
        if report["auroc"]["drop"] > args.max_auroc_drop and not args.force:
            raise _Refused(
                EXIT_EXPORT,
                f"the export loses {report['auroc']['drop']:.4f} AUROC (more than "
                f"{args.max_auroc_drop}); nothing written (--force to keep it)",
            )

    try:
        export_onnx(detector, args.out, int8=args.int8, check=check)
    except _Refused as exc:
        if exc.code == EXIT_EXPORT:
            print(json.dumps(report, indent=2))
        _error(str(exc))
        return exc.code
    except DfdetectError as exc:
        _error(str(exc))
        return EXIT_EXPORT
    print(json.dumps(report, indent=2))
    return EXIT_OK
