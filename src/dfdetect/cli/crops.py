"""Options shared by the commands that cut face crops (extract, prepare): which frames are read,
the crop geometry, and how the run goes."""

from __future__ import annotations

import argparse

from dfdetect.cli.flags import positive_int

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


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """Which frames of a video are read (defaults: ``EXTRACT_SAMPLING``)."""
    from dfdetect.faces.sampling import EXTRACT_SAMPLING as d

    parser.add_argument(
        "--frames", type=positive_int, help=f"frames sampled per video (default: {d.frames})"
    )
    parser.add_argument(
        "--sampling",
        choices=SAMPLING_MODES,
        help=f"frame sampling (default: {d.sampling}, from the middle frame)",
    )
    parser.add_argument("--stride", type=positive_int, help="frame step for --sampling stride")
    parser.add_argument(
        "--seek",
        choices=SEEK_MODES,
        help="exact: the sampled frames themselves; keyframe: nearby frames that are cheap to "
        f"decode (default: {d.seek}; see docs/faces.md)",
    )


def add_crop_arguments(parser: argparse.ArgumentParser) -> None:
    """The crop geometry."""
    from dfdetect.extract.options import ExtractOptions as d

    parser.add_argument(
        "--preset", choices=PRESETS, help=f"face-crop template (default: {d.preset})"
    )
    parser.add_argument(
        "--size", type=_size, help=f"crop side in pixels, or 'native' (default: {d.size})"
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Device, batching, processes and what happens to earlier crops."""
    from dfdetect.extract.options import ExtractOptions as d

    parser.add_argument("--device", help="torch device (default: cuda if present)")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help=f"frames per detector batch (default: {d.batch_size})",
    )
    parser.add_argument(
        "--workers", type=positive_int, help=f"worker processes (default: {d.workers})"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace videos already extracted into --out (default: keep them when made with "
        "the same settings, refuse when made with others)",
    )


def size_given(args: argparse.Namespace) -> dict:
    """``--size`` as an ExtractOptions setting (``native``: None), or nothing when not given."""
    if args.size is None:
        return {}
    return {"size": None if args.size == NATIVE else args.size}
