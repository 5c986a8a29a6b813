"""What every dataset layout shares: walking a crop tree and resolving real/fake pairs."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from dfdetect.data.accounting import Accounting
from dfdetect.data.samples import REAL, DatasetError, FrameSample, list_frames, video_key

SPLITS = ("train", "val", "test")
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})


@dataclass(frozen=True)
class VideoInfo:
    """What an layout knows about one video: label, split, identity and its real source video."""

    label: int
    split: str | None = None
    identity: str | None = None
    pair: str | None = None  # video name of the real video this fake was made from


@dataclass(frozen=True)
class RawVideo:
    """One video file of a raw dataset, with the source/video names its crops are written under."""

    source: str
    video: str
    path: Path


class DatasetLayout(ABC):
    """Turns one dataset (raw videos or an extracted crop tree) into labelled, grouped samples.

    A crop tree is ``root/<source>/<video>/<frame>.png`` (what ``dfdetect extract`` writes under
    ``<out>/<dataset>``). Labels come from :meth:`describe`, an explicit mapping per dataset.
    """

    name: str = ""  # registry name
    display: str = ""  # dataset name recorded in samples and tables

    def __init__(self, root: str | Path, *, split: str | None = None, name: str | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: dataset folder does not exist")
        if split not in (None, "all", *SPLITS):
            raise DatasetError(f"unknown split {split!r} (known: all, {', '.join(SPLITS)})")
        self.split = None if split == "all" else split
        self.dataset = name or self.display

    @abstractmethod
    def describe(self, source: str, video: str) -> VideoInfo:
        """Label and grouping of one video; raises DatasetError for unknown sources or videos."""

    def is_raw(self) -> bool:
        """True when ``root`` holds the raw videos rather than extracted crops."""
        return any(
            p.suffix.lower() in VIDEO_SUFFIXES for d in self._source_dirs() for p in d.iterdir()
        )

    def raw_videos(self) -> list[RawVideo]:
        """The raw video files, named as their crops will be (default: ``root/<source>/*.mp4``)."""
        return [
            RawVideo(d.name, p.stem, p)
            for d in self._source_dirs()
            for p in sorted(d.iterdir())
            if p.suffix.lower() in VIDEO_SUFFIXES
        ]

    def listed_videos(self) -> tuple[str, set[tuple[str, str]]] | None:
        """What the dataset's own files (split file, label list) name for the requested split:
        (that file's name, its (source, video) pairs); None when only its folders list it."""
        return None

    def samples(self) -> list[FrameSample]:
        """Every crop of the requested split, in a stable order; raises on unknown folders."""
        return self.load()[0]

    def load(self) -> tuple[list[FrameSample], Accounting]:
        """The crops of the requested split and the :class:`Accounting` of its videos: listed,
        found, missing (listed, no folder) and empty (a folder without a crop). Hidden folders
        (``.NAME.partial-PID``: an extraction in progress or killed) are not videos."""
        if self.is_raw():
            raise DatasetError(
                f"{self.root} holds raw videos: extract face crops first with "
                f"dfdetect prepare {self.name} {self.root} --out DIR "
                f"(it runs dfdetect extract), then use DIR/{self.dataset}"
            )
        walked = [(d, info, list_frames(d)) for d, info in self._video_dirs()]
        if not any(frames for _, _, frames in walked):
            raise DatasetError(f"{self.root}: no face crops found (<source>/<video>/<frame>.png)")
        kept = [w for w in walked if self.split is None or w[1].split == self.split]
        if not any(frames for _, _, frames in kept):
            raise DatasetError(f"{self.root}: no videos in split {self.split!r}")
        found = [self._sample(d, info, f) for d, info, frames in kept for f in frames]
        present = {(d.parent.name, d.name) for d, _, _ in kept}
        empty = [video_key(self.dataset, d.parent.name, d.name) for d, _, f in kept if not f]
        listed_by, named = self.listed_videos() or ("folders", present)
        accounting = Accounting(
            self.dataset,
            listed_by,
            listed=len(named | present),
            found=len(present),
            missing=sorted(video_key(self.dataset, *sv) for sv in named - present),
            empty=sorted(empty),
            frames=len(found),
        )
        return resolve_pairs(found), accounting

    def _source_dirs(self) -> list[Path]:
        return sorted(p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _video_dirs(self) -> Iterator[tuple[Path, VideoInfo]]:
        for source_dir in self._source_dirs():
            for video_dir in sorted(source_dir.iterdir()):
                if video_dir.is_dir() and not video_dir.name.startswith("."):
                    yield video_dir, self.describe(source_dir.name, video_dir.name)

    def _sample(self, video_dir: Path, info: VideoInfo, frame: Path) -> FrameSample:
        return FrameSample(
            dataset=self.dataset,
            source=video_dir.parent.name,
            video=video_dir.name,
            frame=frame.stem,
            label=info.label,
            path=frame,
            split=info.split,
            identity=info.identity,
            pair=info.pair,
        )


def resolve_pairs(samples: list[FrameSample]) -> list[FrameSample]:
    """Each fake's ``pair`` (a real video name) as that real video's key when exactly one real
    video of the samples has that name, else None."""
    real_keys: dict[str, set[str]] = {}
    for s in samples:
        if s.label == REAL:
            real_keys.setdefault(s.video, set()).add(s.video_key)
    out = []
    for s in samples:
        keys = real_keys.get(s.pair, set()) if s.pair else set()
        out.append(replace(s, pair=next(iter(keys)) if len(keys) == 1 else None))
    return out


def unknown_source(layout: DatasetLayout, source: str, known: Iterable[str]) -> DatasetError:
    """The error for a source folder the dataset's mapping does not name."""
    return DatasetError(
        f"{layout.root / source}: unknown source folder {source!r} for {layout.dataset} "
        f"(known: {', '.join(sorted(known))})"
    )
