"""``dfdetect extract``: detect, align and save face crops from raw videos and images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dfdetect.cli.crops import (
    add_crop_arguments,
    add_run_arguments,
    add_sampling_arguments,
    size_given,
)
from dfdetect.cli.exits import (
    EXIT_INPUTS_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    check_writable,
    fail,
)
from dfdetect.cli.flags import add_inputs_and_out, given, positive_int, probability

FACE_CHOICES = ("largest", "all", "mask")  # dfdetect.faces.select.FACE_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect extract``."""
    from dfdetect.extract.options import ExtractOptions

    add_inputs_and_out(parser, "video/image files or folders (searched recursively)")
    parser.add_argument(
        "--dataset", default=None, help=f"dataset name (default: {ExtractOptions.dataset})"
    )
    parser.add_argument(
        "--source", default=None, help="source name (default: each file's parent folder name)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="cut faces the way this model's were cut (its recorded face pipeline: detector, "
        "thresholds, crop, frames and their order); the flags below override it",
    )
    add_sampling_arguments(parser)
    add_crop_arguments(parser)
    _add_detector_arguments(parser)
    add_run_arguments(parser)


def _add_detector_arguments(parser: argparse.ArgumentParser) -> None:
    """Which faces are found and kept."""
    from dfdetect.extract.options import ExtractOptions as d

    parser.add_argument(
        "--face", choices=FACE_CHOICES, help=f"faces kept per frame (default: {d.face})"
    )
    parser.add_argument(
        "--mask-dir", type=Path, help="folder of manipulation-mask videos named like the inputs"
    )
    parser.add_argument("--detector", help=f"face detector: mtcnn or scrfd (default: {d.detector})")
    parser.add_argument(
        "--scrfd-model",
        metavar="PATH|REPO:FILE",
        help="InsightFace SCRFD ONNX weights for --detector scrfd (default: "
        "$DFDETECT_SCRFD_MODEL); non-commercial research licence",
    )
    parser.add_argument(
        "--min-face-size",
        type=positive_int,
        help=f"smallest face in pixels (default: {d.min_face_size})",
    )
    parser.add_argument(
        "--threshold", type=probability, help="face confidence threshold (default: the detector's)"
    )


# flag -> ExtractOptions field, where the flag sets the field as given (None: not given)
OPTION_FLAGS = {f: f for f in ("frames", "sampling", "stride", "seek", "preset", "threshold")}
OPTION_FLAGS |= {f: f for f in ("dataset", "source", "face", "min_face_size", "device")}
OPTION_FLAGS |= {"batch_size": "batch_size", "workers": "workers"}


def _check(args: argparse.Namespace) -> str | None:
    """The first problem with the arguments argparse cannot see, or None."""
    if args.out.exists() and not args.out.is_dir():
        return f"--out {args.out} exists and is not a folder"
    if args.sampling == "stride" and args.stride is None:
        return "--sampling stride needs --stride N"
    if args.stride is not None and args.sampling != "stride":
        return "--stride is only used with --sampling stride"
    if args.face == "mask" and args.mask_dir is None:
        return "--face mask needs --mask-dir"
    if args.mask_dir is not None and not args.mask_dir.is_dir():
        return f"--mask-dir {args.mask_dir} is not a folder"
    if args.min_face_size is not None and args.min_face_size < 12:
        return f"--min-face-size must be >= 12, got {args.min_face_size}"
    from dfdetect.faces.detectors import DETECTORS

    if args.detector is not None and args.detector not in DETECTORS:
        return f"unknown --detector {args.detector!r}; known: {', '.join(sorted(DETECTORS))}"
    return None


def extract_options(args: argparse.Namespace):
    """The run's options: ExtractOptions defaults, then ``--model``'s face pipeline, then the
    flags given."""
    from dfdetect.extract import ExtractOptions
    from dfdetect.faces.pipeline import FacePipeline, choose_detector

    settings: dict = {}
    pipeline = FacePipeline(detector=ExtractOptions.detector)
    if args.model is not None:
        from dfdetect.model.loading import read_checkpoint

        pipeline = read_checkpoint(args.model).config.face_pipeline
        if args.preset is None and args.size is None:  # an explicit crop wins
            settings["crop"] = pipeline.crop
        settings.update(frames=pipeline.frames, sampling=pipeline.sampling)
    pipeline, detector_options = choose_detector(
        pipeline, detector=args.detector, scrfd_model=args.scrfd_model
    )
    settings["threshold"] = detector_options.pop("threshold", None)
    settings.update(detector=pipeline.detector, detector_options=tuple(detector_options.items()))
    settings.update(given(args, OPTION_FLAGS))
    settings.update(size_given(args))
    if args.face == "mask":
        settings["mask_dir"] = args.mask_dir
    return ExtractOptions(out=args.out, overwrite=args.overwrite, **settings)


def run(args: argparse.Namespace) -> int:
    """Run the extraction; exit codes as in :mod:`dfdetect.cli.exits` (1: some input was not
    found or gave no crop, see failures.csv; 2: --out holds these inputs' crops made with other
    settings)."""
    problem = _check(args)
    if problem:
        print(f"dfdetect extract: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from rich.console import Console
    from rich.table import Table

    from dfdetect.errors import DfdetectError
    from dfdetect.extract import run_extraction

    try:
        options = extract_options(args)
    except DfdetectError as exc:
        print(f"dfdetect extract: error: {exc}", file=sys.stderr)
        return 3
    console = Console(stderr=True)
    try:
        from dfdetect.model.device import check_device

        check_device(args.device)
        check_writable(args.out, folder=True)
        summary = run_extraction(args.inputs, options, console)
    except (DfdetectError, OSError, ValueError) as exc:  # e.g. no detector weights: exit 3
        return fail("extract", exc)
    table = Table(title="extraction", show_header=False)
    table.add_row("input files", str(summary.inputs))
    table.add_row("files done", str(summary.done))
    table.add_row("already done (skipped)", str(summary.skipped))
    table.add_row("files failed", str(summary.failed))
    table.add_row("frames read", str(summary.frames))
    table.add_row("crops written", str(summary.crops))
    for reason, count in sorted(summary.by_reason.items()):
        table.add_row(f"failed: {reason}", str(count))
    if summary.frame_failures:
        table.add_row("sampled frames without a crop", str(summary.frame_failures))
    table.add_row("manifest", f"{summary.manifest} ({summary.manifest_rows} rows)")
    table.add_row("failure report", f"{summary.failure_csv}, {summary.failure_json}")
    Console().print(table)
    return EXIT_INPUTS_FAILED if summary.failed else EXIT_OK
