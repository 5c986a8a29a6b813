"""``dfdetect prepare NAME ROOT --out DIR``: a raw dataset (FF++, DFD, CDFv2, DFDC, ...) ->
the crop tree its layout reads, through the extraction pipeline of ``dfdetect extract``."""

from __future__ import annotations

import argparse
from pathlib import Path

from dfdetect.cli.crops import (
    add_crop_arguments,
    add_run_arguments,
    add_sampling_arguments,
    size_given,
)
from dfdetect.cli.exits import EXIT_INPUTS_FAILED, EXIT_OK, fail
from dfdetect.cli.flags import given

# flag -> ExtractOptions field (dataset, source and the face choice come from the layout)
OPTION_FLAGS = {f: f for f in ("frames", "sampling", "stride", "seek", "preset", "device")}
OPTION_FLAGS |= {"batch_size": "batch_size", "workers": "workers"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``dfdetect prepare``."""
    parser.add_argument("dataset", help="layout name (ff++, dfd, cdfv2, dfdc, ...)")
    parser.add_argument("root", type=Path, help="the raw dataset folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder of the crops")
    add_sampling_arguments(parser)
    add_crop_arguments(parser)
    add_run_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Extract every video the layout lists; 1 when some video failed."""
    from dfdetect.data.layouts import create_dataset
    from dfdetect.errors import DfdetectError
    from dfdetect.extract.datasets import extract_raw
    from dfdetect.extract.options import ExtractOptions

    try:
        layout = create_dataset(args.dataset, args.root)
        options = ExtractOptions(
            out=args.out,
            overwrite=args.overwrite,
            **given(args, OPTION_FLAGS),
            **size_given(args),
        )
        crops, failures = extract_raw(layout, options)
    except (DfdetectError, OSError) as exc:
        return fail("prepare", exc)
    print(f"crops: {crops} ({len(failures)} videos failed; see the failure reports in {args.out})")
    print(f"use it as: --data {layout.name}={crops}")
    return EXIT_INPUTS_FAILED if failures else EXIT_OK
