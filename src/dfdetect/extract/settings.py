"""The settings a video's crops were made with, recorded beside them, so that a re-run with
other settings never passes old crops off as new ones."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dfdetect.atomic import write_text_atomic
from dfdetect.errors import DfdetectError
from dfdetect.extract.jobs import ExtractJob
from dfdetect.extract.options import ExtractOptions

SETTINGS = "_extract.json"  # per finished video folder, beside its crops and _faces.csv


class SettingsMismatch(DfdetectError):
    """The output folder holds crops of this run's inputs made with other settings."""


def crop_settings(options: ExtractOptions) -> dict[str, Any]:
    """What decides which crops a video gives (not where they go or how fast), JSON-ready."""
    settings = {
        "frames": options.frames,
        "sampling": options.sampling,
        "stride": options.stride,
        "seek": options.seek,
        "crop": options.crop_preset().to_dict(),
        "face": options.face,
        "detector": options.detector,
        "min_face_size": options.min_face_size,
        "threshold": options.threshold,
        "detector_options": {k: str(v) for k, v in options.detector_options},
    }
    return json.loads(json.dumps(settings))


def write_settings(folder: Path, options: ExtractOptions) -> None:
    """Record ``options``' crop settings in ``folder``."""
    write_text_atomic(folder / SETTINGS, json.dumps(crop_settings(options), indent=2) + "\n")


def _differences(folder: Path, wanted: dict[str, Any]) -> str | None:
    """How ``folder``'s recorded settings differ from ``wanted`` (None: they do not)."""
    try:
        recorded = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no readable settings record (made by an older dfdetect?)"
    changed = [k for k in wanted if recorded.get(k) != wanted[k]]
    if not changed:
        return None
    return ", ".join(
        f"{k} {_short(recorded.get(k))} then, {_short(wanted[k])} now" for k in changed
    )


def _short(value: Any) -> str:
    if isinstance(value, dict) and "name" in value:  # a crop preset
        return f"{value['name']}@{value.get('size')}"
    return json.dumps(value)


def check_settings(jobs: Sequence[ExtractJob], options: ExtractOptions) -> None:
    """Raise :class:`SettingsMismatch` when a job's finished folder holds crops made with other
    settings than ``options`` (``--overwrite`` replaces them instead)."""
    wanted = crop_settings(options)
    mismatched = []
    for job in jobs:
        folder = options.out / job.relative_dir()
        if folder.is_dir() and (why := _differences(folder, wanted)) is not None:
            mismatched.append((folder, why))
    if mismatched:
        folder, why = mismatched[0]
        more = f" (and {len(mismatched) - 1} more folders)" if len(mismatched) > 1 else ""
        raise SettingsMismatch(
            f"{folder} holds crops made with other settings: {why}{more}; use --overwrite to "
            "replace them, or another --out"
        )
