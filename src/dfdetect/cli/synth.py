"""``dfdetect synth --method sbi INPUT... --out DIR``: pseudo-fakes from real faces."""

from __future__ import annotations

import argparse
import sys

from dfdetect.cli.crops import PRESETS
from dfdetect.cli.exits import (
    EXIT_INPUTS_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    EnvironmentProblem,
    check_writable,
    fail,
)
from dfdetect.cli.flags import add_inputs_and_out, positive_int

METHODS = ("sbi", "blend")  # dfdetect.synth.writer.METHODS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect synth``."""
    add_inputs_and_out(
        parser, "real face crops or frames: image files, folders, or an extract manifest.csv"
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="sbi",
        help="sbi: self-blended images (one face, two augmented copies); blend: Face X-ray "
        "style, another real face of similar landmarks blended in (default sbi)",
    )
    parser.add_argument(
        "--count", type=positive_int, help="pseudo-fakes to write (default: one per input image)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--aligned",
        choices=PRESETS,
        help="inputs are crops aligned with this face-crop preset: take the landmarks from its "
        "template instead of detecting them (an extract manifest beside a crop wins)",
    )
    parser.add_argument(
        "--detector", default="mtcnn", help="face detector for inputs without landmarks (mtcnn)"
    )


def run(args: argparse.Namespace) -> int:
    """Write the pseudo-fakes; returns the exit code."""
    from dfdetect.errors import ModelNotFoundError
    from dfdetect.faces.presets import get_preset
    from dfdetect.synth.inputs import collect_inputs, detect_landmarks
    from dfdetect.synth.writer import synthesize

    try:
        check_writable(args.out, folder=True)
    except EnvironmentProblem as exc:
        return fail("synth", exc)
    preset = get_preset(args.aligned) if args.aligned else None
    items, failures = collect_inputs(args.inputs, preset)
    for path, reason in failures:
        print(f"dfdetect synth: error: {path}: {reason}", file=sys.stderr)
    if not items:
        print("dfdetect synth: error: no input images", file=sys.stderr)
        return EXIT_USAGE
    find = None
    if any(item.landmarks is None for item in items):
        from dfdetect.faces.detectors import create_face_detector

        try:
            find = detect_landmarks(create_face_detector(args.detector, device="cpu"))
        except (KeyError, ImportError, OSError, RuntimeError) as exc:  # cannot load: exit 3
            return fail("synth", ModelNotFoundError(f"face detector {args.detector!r}: {exc}"))
    report = synthesize(
        items, args.out, method=args.method, count=args.count, seed=args.seed, find_landmarks=find
    )
    for path, reason in report.failures:
        print(f"dfdetect synth: error: {path}: {reason}", file=sys.stderr)
    print(f"wrote {len(report.rows)} pseudo-fakes to {args.out} (manifest.csv, sheet.png)")
    return EXIT_INPUTS_FAILED if failures or report.failures else EXIT_OK
