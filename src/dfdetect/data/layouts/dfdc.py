"""DFDC (public test set, ``labels.csv``) and DFDC preview (``dataset.json``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dfdetect.data.layouts.base import DatasetLayout, RawVideo, VideoInfo
from dfdetect.data.samples import FAKE, REAL, DatasetError, parse_label

DFDCP_LABELS = {"real": REAL, "fake": FAKE}
DFDC_LABELS = {"0": REAL, "1": FAKE}


def _find(root: Path, given: str | Path | None, candidates: tuple[str, ...]) -> Path:
    if given:
        path = Path(given)
        if not path.is_file():
            raise DatasetError(f"{path}: label file not found")
        return path
    for name in candidates:
        if (root / name).is_file():
            return root / name
    raise DatasetError(f"{root}: none of {', '.join(candidates)} found (pass labels=FILE)")


class DFDC(DatasetLayout):
    """DFDC test set: every video's label from ``labels.csv`` (``filename,label``; 1 = fake)."""

    name, display = "dfdc", "DFDC"

    def __init__(self, root, *, split=None, name=None, labels=None):
        super().__init__(root, split=split, name=name)
        path = _find(self.root, labels, ("labels.csv", "test/labels.csv"))
        self._labels: dict[str, int] = {}
        with path.open(newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                if "filename" not in row or "label" not in row:
                    raise DatasetError(f"{path}: needs columns filename,label")
                where = f"{path}:{n}"
                self._labels[Path(row["filename"]).stem] = parse_label(
                    row["label"], DFDC_LABELS, where
                )
        self._csv_dir = path.parent

    def raw_videos(self) -> list[RawVideo]:
        folder = self._csv_dir / "videos" if (self._csv_dir / "videos").is_dir() else self._csv_dir
        return [RawVideo("test", p.stem, p) for p in sorted(folder.glob("*.mp4"))]

    def is_raw(self) -> bool:
        return bool(self.raw_videos())

    def listed_videos(self) -> tuple[str, set[tuple[str, str]]] | None:
        """Every video of labels.csv (DFDC's test set), under the ``test`` source folder."""
        if self.split not in (None, "test"):
            return None
        return "labels.csv", {("test", video) for video in self._labels}

    def describe(self, source: str, video: str) -> VideoInfo:
        if video not in self._labels:
            raise DatasetError(f"{self.root / source / video}: video not listed in labels.csv")
        return VideoInfo(self._labels[video], "test")


class DFDCPreview(DatasetLayout):
    """DFDC preview: ``dataset.json`` maps ``<folder>/.../<name>.mp4`` to label and set."""

    name, display = "dfdcp", "DFDCP"

    def __init__(self, root, *, split=None, name=None, labels=None):
        super().__init__(root, split=split, name=name)
        path = _find(self.root, labels, ("dataset.json",))
        try:
            entries = json.loads(path.read_text())
        except ValueError as exc:
            raise DatasetError(f"{path}: not JSON ({exc})") from exc
        self._info: dict[tuple[str, str], VideoInfo] = {}
        self._paths: dict[tuple[str, str], Path] = {}
        for key, entry in entries.items():
            rel = Path(key)
            ident = (rel.parts[0], rel.stem)
            label = parse_label(entry.get("label"), DFDCP_LABELS, f"{path}: {key}")
            split = entry.get("set")
            if split not in ("train", "test"):
                raise DatasetError(f"{path}: {key}: set must be train or test, got {split!r}")
            self._info[ident] = VideoInfo(label, split)
            self._paths[ident] = path.parent / rel

    def raw_videos(self) -> list[RawVideo]:
        return [RawVideo(s, v, p) for (s, v), p in sorted(self._paths.items()) if p.is_file()]

    def is_raw(self) -> bool:
        return any(p.is_file() for p in self._paths.values())

    def listed_videos(self) -> tuple[str, set[tuple[str, str]]] | None:
        """The videos dataset.json puts in the requested split."""
        named = {k for k, info in self._info.items() if self.split in (None, info.split)}
        return "dataset.json", named

    def describe(self, source: str, video: str) -> VideoInfo:
        if (source, video) not in self._info:
            raise DatasetError(f"{self.root / source / video}: not listed in dataset.json")
        return self._info[(source, video)]
