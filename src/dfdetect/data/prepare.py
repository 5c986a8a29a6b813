"""Raw dataset -> crop tree, through the extraction pipeline of ``dfdetect extract``.

``python -m dfdetect.data.prepare ff++ /raw/FaceForensics++ --out /data/crops`` extracts every
video the layout lists, named ``<out>/<dataset>/<source>/<video>`` so that the same layout
then reads the crops (``create_dataset("ff++", "/data/crops/FF++")``). FF++/DFD fakes use the
shipped manipulation masks to pick the manipulated face when they are present.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from itertools import groupby
from pathlib import Path

from dfdetect.data.layouts import DatasetLayout, create_dataset
from dfdetect.data.samples import DatasetError


def mask_folder(layout: DatasetLayout, source: str) -> Path | None:
    """FF++/DFD ship mask videos per manipulation method; None elsewhere or when absent."""
    folder = layout.root / "manipulated_sequences" / source / "masks" / "videos"
    return folder if folder.is_dir() else None


def extract_raw(layout: DatasetLayout, options) -> tuple[Path, list]:
    """Extract ``layout``'s raw videos with ``options`` (an ``ExtractOptions`` whose dataset
    and source are set per group here); returns the crop root and the extraction failures."""
    from dfdetect.extract.pipeline import run_extraction

    if not layout.is_raw():
        raise DatasetError(f"{layout.root}: no raw videos found for {layout.dataset}")
    failures = []
    for source, group in groupby(layout.raw_videos(), key=lambda v: v.source):
        masks = mask_folder(layout, source)
        group_options = replace(
            options,
            dataset=layout.dataset,
            source=source,
            mask_dir=masks,
            face="mask" if masks else options.face,
        )
        failures += run_extraction([v.path for v in group], group_options).failures
    return options.out / layout.dataset, failures


def main(argv: list[str] | None = None) -> int:
    """``python -m dfdetect.data.prepare NAME RAW_ROOT --out DIR [extraction options]``."""
    from dfdetect.cli.exits import EXIT_INPUTS_FAILED, EXIT_OK, fail
    from dfdetect.errors import DfdetectError
    from dfdetect.extract.options import ExtractOptions

    parser = argparse.ArgumentParser(prog="python -m dfdetect.data.prepare", description=__doc__)
    parser.add_argument("dataset", help="layout name (ff++, dfd, cdfv2, dfdc, ...)")
    parser.add_argument("root", type=Path, help="the raw dataset folder")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--sampling", default="max-spread", choices=("even", "max-spread"))
    parser.add_argument("--preset", default="gend", choices=("gend", "arcface"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace crops made with other settings"
    )
    args = parser.parse_args(argv)
    try:
        layout = create_dataset(args.dataset, args.root)
        options = ExtractOptions(
            out=args.out,
            frames=args.frames,
            sampling=args.sampling,
            preset=args.preset,
            workers=args.workers,
            device=args.device,
            overwrite=args.overwrite,
        )
        crops, failures = extract_raw(layout, options)
    except (DfdetectError, OSError) as exc:
        return fail("prepare", exc)
    print(f"crops: {crops} ({len(failures)} videos failed; see the failure reports in {args.out})")
    print(f"use it as: --data {layout.name}={crops}")
    return EXIT_INPUTS_FAILED if failures else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
