"""The unit every layout produces: one labelled face crop, grouped by dataset, source and video."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from dfdetect.errors import DfdetectError

REAL, FAKE = 0, 1
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp"})


class DatasetError(DfdetectError):
    """A dataset's layout, label files or options do not match what its layout expects."""


@dataclass(frozen=True)
class FrameSample:
    """One face crop: where it lives, what it shows and which video/identity/split it belongs to.

    ``pair`` is the video key of the real video a fake was made from (same dataset), or None.
    """

    dataset: str
    source: str
    video: str
    frame: str
    label: int
    path: Path
    split: str | None = None
    identity: str | None = None
    pair: str | None = None

    @property
    def video_key(self) -> str:
        """``dataset/source/video``: unique across every dataset an experiment uses."""
        return f"{self.dataset}/{self.source}/{self.video}"


def video_key(dataset: str, source: str, video: str) -> str:
    """The key :attr:`FrameSample.video_key` gives for these parts."""
    return f"{dataset}/{source}/{video}"


def group_by_video(samples: Iterable[FrameSample]) -> dict[str, list[FrameSample]]:
    """Samples grouped per video key, frames sorted by name, videos in sorted key order."""
    groups: dict[str, list[FrameSample]] = {}
    for s in samples:
        groups.setdefault(s.video_key, []).append(s)
    return {k: sorted(groups[k], key=lambda s: s.frame) for k in sorted(groups)}


def list_frames(video_dir: Path) -> list[Path]:
    """The image files of one extracted video folder, sorted by name."""
    return sorted(
        p
        for p in video_dir.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def parse_label(value: str | int, mapping: Mapping[str, int], where: str) -> int:
    """A label from an explicit name->label mapping; unknown names raise, naming the file."""
    if isinstance(value, int) and value in (REAL, FAKE):
        return value
    key = str(value)
    if key not in mapping:
        raise DatasetError(f"{where}: unknown label {key!r} (known: {', '.join(sorted(mapping))})")
    return mapping[key]
