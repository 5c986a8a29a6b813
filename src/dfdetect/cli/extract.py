"""``dfdetect extract``: detect, align and save face crops from raw videos and images."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dfdetect.cli.argtypes import positive_int, probability
from dfdetect.cli.exits import (
    EXIT_INPUTS_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    check_writable,
    fail,
)

FACE_CHOICES = ("largest", "all", "mask")  # dfdetect.faces.select.FACE_CHOICES
SAMPLING_MODES = ("even", "stride", "max-spread")  # dfdetect.media.sampling.SAMPLING_MODES
SEEK_MODES = ("exact", "keyframe")  # dfdetect.media.sampling.SEEK_MODES
PRESETS = ("gend", "arcface")  # dfdetect.faces.presets.PRESETS
NATIVE = "native"


def _size(text: str) -> int | str:
    if text == NATIVE:
        return NATIVE
    value = positive_int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"crop size must be >= 8 or 'native', got {value}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect extract``."""
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="video/image files or folders (searched recursively)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--dataset", default="custom", help="dataset name (default: custom)")
    parser.add_argument(
        "--source", default=None, help="source name (default: each file's parent folder name)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="cut faces the way this model's were cut (its recorded face pipeline: detector, "
        "thresholds, crop, frames and their order); the flags below override it",
    )
    parser.add_argument(
        "--frames", type=positive_int, default=None, help="frames sampled per video (default: 32)"
    )
    parser.add_argument(
        "--sampling",
        choices=SAMPLING_MODES,
        default=None,
        help="frame sampling (default: max-spread from the middle frame)",
    )
    parser.add_argument(
        "--stride", type=positive_int, default=None, help="frame step for --sampling stride"
    )
    parser.add_argument(
        "--seek",
        choices=SEEK_MODES,
        default=None,
        help="exact: the sampled frames themselves (default); keyframe: nearby frames that "
        "are cheap to decode (see docs/faces.md)",
    )
    parser.add_argument(
        "--preset", choices=PRESETS, default=None, help="face-crop template (default: gend)"
    )
    parser.add_argument(
        "--size", type=_size, default=None, help="crop side in pixels, or 'native' (default: 256)"
    )
    parser.add_argument(
        "--face",
        choices=FACE_CHOICES,
        default="largest",
        help="faces kept per frame (default: largest)",
    )
    parser.add_argument(
        "--mask-dir",
        type=Path,
        default=None,
        help="folder of manipulation-mask videos named like the inputs",
    )
    parser.add_argument(
        "--detector", default=None, help="face detector: mtcnn or scrfd (default: mtcnn)"
    )
    parser.add_argument(
        "--scrfd-model",
        default=None,
        metavar="PATH|REPO:FILE",
        help="InsightFace SCRFD ONNX weights for --detector scrfd (default: "
        "$DFDETECT_SCRFD_MODEL); non-commercial research licence",
    )
    parser.add_argument(
        "--min-face-size",
        type=positive_int,
        default=40,
        help="smallest face in pixels (default: 40)",
    )
    parser.add_argument(
        "--threshold",
        type=probability,
        default=None,
        help="face confidence threshold (default: the detector's)",
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.add_argument(
        "--batch-size", type=positive_int, default=8, help="frames per detector batch (default: 8)"
    )
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="worker processes (default: 1)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace videos already extracted into --out (default: keep them when made with "
        "the same settings, refuse when made with others)",
    )


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
    if args.min_face_size < 12:
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
    given = {
        "frames": args.frames,
        "sampling": args.sampling,
        "seek": args.seek,
        "preset": args.preset,
        "threshold": args.threshold,
    }
    settings.update({k: v for k, v in given.items() if v is not None})
    if args.size is not None:
        settings["size"] = None if args.size == NATIVE else args.size
    return ExtractOptions(
        out=args.out,
        dataset=args.dataset,
        source=args.source,
        stride=args.stride,
        face=args.face,
        mask_dir=args.mask_dir if args.face == "mask" else None,
        min_face_size=args.min_face_size,
        device=args.device,
        batch_size=args.batch_size,
        workers=args.workers,
        overwrite=args.overwrite,
        **settings,
    )


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
