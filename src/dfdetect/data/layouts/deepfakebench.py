"""DeepfakeBench's dataset JSON files, so frames users already extracted are reused as they are.

Layout: ``{dataset: {label_name: {split: {[compression:] {video: {"label", "frames": [...]}}}}}}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PureWindowsPath

from dfdetect.data.accounting import Accounting
from dfdetect.data.layouts.base import SPLITS, DatasetLayout, VideoInfo
from dfdetect.data.samples import FAKE, REAL, DatasetError, FrameSample, parse_label, video_key

# DeepfakeBench's label names (its config ``label_dict``) -> label.
DFB_LABELS = {
    "FF-real": REAL,
    "FF-DF": FAKE,
    "FF-F2F": FAKE,
    "FF-FS": FAKE,
    "FF-NT": FAKE,
    "FF-FH": FAKE,
    "FF-SH": FAKE,
    "DFD_real": REAL,
    "DFD_fake": FAKE,
    "CelebDFv1_real": REAL,
    "CelebDFv1_fake": FAKE,
    "CelebDFv2_real": REAL,
    "CelebDFv2_fake": FAKE,
    "CelebDFv3_real": REAL,
    "CelebDFv3_fake": FAKE,
    "DFDCP_Real": REAL,
    "DFDCP_FakeA": FAKE,
    "DFDCP_FakeB": FAKE,
    "DFDC_Real": REAL,
    "DFDC_Fake": FAKE,
    "DF_real": REAL,
    "DF_fake": FAKE,
    "UADFV_Real": REAL,
    "UADFV_Fake": FAKE,
    "FFIW_Real": REAL,
    "FFIW_Fake": FAKE,
    "WDF_Real": REAL,
    "WDF_Fake": FAKE,
    "roop_Real": REAL,
    "roop_Fake": FAKE,
}
COMPRESSIONS = ("raw", "c23", "c40")


class DeepfakeBenchJSON(DatasetLayout):
    """Frames listed in a DeepfakeBench JSON (``root`` is the JSON file; relative frame paths are
    resolved against ``frames_root``, default the JSON's folder). Extra ``labels`` extend the
    label-name table; an unknown label name is an error naming it.
    """

    name, display = "deepfakebench", ""

    def __init__(
        self,
        root,
        *,
        split=None,
        name=None,
        compression: str = "c23",
        frames_root: str | Path | None = None,
        labels: Mapping[str, int] | None = None,
    ):
        path = Path(root)
        if not path.is_file():
            raise DatasetError(f"{path}: DeepfakeBench JSON file not found")
        super().__init__(path.parent, split=split, name=name)
        self.json_path = path
        self.compression = compression
        self.frames_root = Path(frames_root) if frames_root else path.parent
        self.labels = {**DFB_LABELS, **(labels or {})}
        try:
            self._doc = json.loads(path.read_text())
        except ValueError as exc:
            raise DatasetError(f"{path}: not JSON ({exc})") from exc
        if not isinstance(self._doc, dict) or len(self._doc) != 1:
            raise DatasetError(f"{path}: expected one top-level dataset key")
        self.dataset = name or next(iter(self._doc))

    def is_raw(self) -> bool:
        return False

    def describe(self, source: str, video: str) -> VideoInfo:
        sample = next((s for s in self.samples() if (s.source, s.video) == (source, video)), None)
        if sample is None:
            raise DatasetError(f"{self.json_path}: no video {source}/{video}")
        return VideoInfo(sample.label, sample.split, sample.identity, sample.pair)

    def load(self) -> tuple[list[FrameSample], Accounting]:
        """The listed frames of the requested split; a video whose frame list is empty is
        accounted as empty (a frame file that is absent fails when it is read)."""
        out: list[FrameSample] = []
        listed: list[str] = []
        for label_name, splits in next(iter(self._doc.values())).items():
            for split, videos in splits.items():
                if split not in SPLITS:
                    raise DatasetError(f"{self.json_path}: {label_name}: unknown split {split!r}")
                if self.split is not None and split != self.split:
                    continue
                for video, entry in self._videos(label_name, videos).items():
                    listed.append(video_key(self.dataset, label_name, video))
                    out += self._frames(label_name, split, video, entry)
        if not out:
            raise DatasetError(f"{self.json_path}: no frames in split {self.split!r}")
        reals = {s.video: s.video_key for s in out if s.label == REAL}
        with_frames = {s.video_key for s in out}
        accounting = Accounting(
            self.dataset,
            self.json_path.name,
            listed=len(listed),
            found=len(listed),
            empty=sorted(k for k in listed if k not in with_frames),
            frames=len(out),
        )
        return [replace(s, pair=reals.get(s.pair)) if s.pair else s for s in out], accounting

    def _videos(self, label_name: str, videos: dict) -> dict:
        if videos and set(videos) <= set(COMPRESSIONS):
            if self.compression not in videos:
                raise DatasetError(
                    f"{self.json_path}: {label_name}: no {self.compression!r} entry "
                    f"(has {', '.join(videos)})"
                )
            return videos[self.compression]
        return videos

    def _frames(self, label_name: str, split: str, video: str, entry: dict) -> list[FrameSample]:
        where = f"{self.json_path}: {label_name}/{video}"
        label = parse_label(entry.get("label", label_name), self.labels, where)
        frames = entry.get("frames")
        if not isinstance(frames, list):
            raise DatasetError(f"{where}: no frame list")
        target, sep, _ = video.partition("_")
        pair = target if label == FAKE and sep and label_name.startswith("FF-") else None
        return [
            FrameSample(
                dataset=self.dataset,
                source=label_name,
                video=video,
                frame=PureWindowsPath(f).stem,
                label=label,
                path=self.frames_root / PureWindowsPath(f).as_posix(),
                split=split,
                pair=pair,
            )
            for f in frames
        ]
