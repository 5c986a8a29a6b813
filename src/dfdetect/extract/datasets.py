"""Raw dataset -> crop tree: every video a dataset layout lists, extracted into
``<out>/<dataset>/<source>/<video>`` so that the same layout then reads the crops
(``create_dataset("ff++", "/data/crops/FF++")``). FF++/DFD fakes use the shipped manipulation
masks to pick the manipulated face when they are present."""

from __future__ import annotations

from dataclasses import replace
from itertools import groupby
from pathlib import Path

from dfdetect.data.layouts import DatasetLayout
from dfdetect.data.samples import DatasetError
from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.pipeline import run_extraction


def mask_folder(layout: DatasetLayout, source: str) -> Path | None:
    """FF++/DFD ship mask videos per manipulation method; None elsewhere or when absent."""
    folder = layout.root / "manipulated_sequences" / source / "masks" / "videos"
    return folder if folder.is_dir() else None


def extract_raw(layout: DatasetLayout, options: ExtractOptions) -> tuple[Path, list]:
    """Extract ``layout``'s raw videos with ``options`` (its dataset and source are set per
    group here); returns the crop root and the extraction failures."""
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
