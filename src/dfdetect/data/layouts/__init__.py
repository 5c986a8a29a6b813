"""Dataset layouts by name: ``create_dataset("ff++", root, split="train")``."""

from __future__ import annotations

import inspect
from pathlib import Path

from dfdetect.data.layouts.base import DatasetLayout, RawVideo, VideoInfo
from dfdetect.data.layouts.celebdf import CelebDF, CelebDFv1
from dfdetect.data.layouts.deepfakebench import DeepfakeBenchJSON
from dfdetect.data.layouts.dfdc import DFDC, DFDCPreview
from dfdetect.data.layouts.faceforensics import DeepFakeDetection, FaceForensics
from dfdetect.data.layouts.folder import FolderDataset
from dfdetect.data.layouts.wild import DF40, FFIW, UADFV, WildDeepfake
from dfdetect.data.samples import DatasetError

LAYOUTS: dict[str, type[DatasetLayout]] = {
    cls.name: cls
    for cls in (
        FaceForensics,
        DeepFakeDetection,
        CelebDF,
        CelebDFv1,
        DFDC,
        DFDCPreview,
        FFIW,
        UADFV,
        WildDeepfake,
        DF40,
        FolderDataset,
        DeepfakeBenchJSON,
    )
}
ALIASES = {
    "ff": "ff++",
    "faceforensics++": "ff++",
    "faceforensics": "ff++",
    "celeb-df-v2": "cdfv2",
    "celebdfv2": "cdfv2",
    "celeb-df-v1": "cdfv1",
    "celebdfv1": "cdfv1",
    "dfdc-preview": "dfdcp",
    "wilddeepfake": "wdf",
    "ffiw10k": "ffiw",
    "dfb": "deepfakebench",
    "generic": "folder",
}


def dataset_names() -> list[str]:
    """Registered layout names."""
    return sorted(LAYOUTS)


def create_dataset(name: str, root: str | Path, **options) -> DatasetLayout:
    """The layout registered as ``name`` (case-insensitive; aliases accepted) for ``root``.

    ``options`` are the layout's keyword arguments (``split``, ``name``, ``labels``...).
    """
    key = ALIASES.get(name.lower(), name.lower())
    if key not in LAYOUTS:
        raise DatasetError(f"unknown dataset {name!r} (known: {', '.join(dataset_names())})")
    cls = LAYOUTS[key]
    try:
        inspect.signature(cls).bind(root, **options)
    except TypeError as exc:  # an option this layout does not take
        raise DatasetError(f"dataset {name!r}: {exc}") from exc
    return cls(root, **options)


__all__ = ["LAYOUTS", "DatasetLayout", "RawVideo", "VideoInfo", "create_dataset", "dataset_names"]
