"""FaceForensics++ (official 720/140/140 splits) and DeepFakeDetection (DFD), same raw tree."""

from __future__ import annotations

import json
from pathlib import Path

from dfdetect.data.layouts.base import SPLITS, DatasetLayout, RawVideo, VideoInfo, unknown_source
from dfdetect.data.samples import FAKE, REAL, DatasetError

# crop-tree source folder -> label. Both the raw folder names (what extraction of the raw tree
# writes) and the reference crops' short names are listed; nothing else is accepted.
FF_SOURCES = {
    "youtube": REAL,
    "real": REAL,
    "Deepfakes": FAKE,
    "DF": FAKE,
    "Face2Face": FAKE,
    "F2F": FAKE,
    "FaceSwap": FAKE,
    "FS": FAKE,
    "NeuralTextures": FAKE,
    "NT": FAKE,
    "FaceShifter": FAKE,
    "FSh": FAKE,
}
FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
DFD_SOURCES = {"actors": REAL, "DFD_real": REAL, "DeepFakeDetection": FAKE, "DFD_fake": FAKE}
COMPRESSIONS = ("raw", "c23", "c40")


def load_ff_splits(folder: Path) -> dict[str, str]:
    """Video id -> split from the official ``train.json``/``val.json``/``test.json`` pair lists."""
    table: dict[str, str] = {}
    for split in SPLITS:
        path = folder / f"{split}.json"
        if not path.is_file():
            raise DatasetError(f"{path}: FF++ split file missing (the official {split}.json)")
        try:
            pairs = json.loads(path.read_text())
            for a, b in pairs:
                for vid in (str(a), str(b), f"{a}_{b}", f"{b}_{a}"):
                    if table.setdefault(vid, split) != split:
                        raise DatasetError(f"{path}: video {vid} is also in {table[vid]}.json")
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"{path}: not a list of [id, id] pairs ({exc})") from exc
    return table


class _RawTree(DatasetLayout):
    """Shared raw-tree logic: ``original_sequences/<src>/<comp>/videos``, ``manipulated_...``."""

    real_folders: tuple[str, ...] = ()
    fake_folders: tuple[str, ...] = ()
    other_folders: tuple[str, ...] = ()  # belong to the sibling dataset in the same tree

    def __init__(self, root, *, split=None, name=None, compression: str = "c23"):
        super().__init__(root, split=split, name=name)
        if compression not in COMPRESSIONS:
            raise DatasetError(f"unknown compression {compression!r} (known: {COMPRESSIONS})")
        self.compression = compression

    def is_raw(self) -> bool:
        return (self.root / "original_sequences").is_dir() or (
            self.root / "manipulated_sequences"
        ).is_dir()

    def raw_videos(self) -> list[RawVideo]:
        out: list[RawVideo] = []
        for top, wanted in (
            ("original_sequences", self.real_folders),
            ("manipulated_sequences", self.fake_folders),
        ):
            base = self.root / top
            if not base.is_dir():
                continue
            for folder in sorted(p for p in base.iterdir() if p.is_dir()):
                if folder.name in self.other_folders:
                    continue
                if folder.name not in wanted:
                    raise unknown_source(self, f"{top}/{folder.name}", wanted)
                videos = folder / self.compression / "videos"
                if not videos.is_dir():
                    raise DatasetError(f"{videos}: missing (compression {self.compression!r})")
                out += [RawVideo(folder.name, p.stem, p) for p in sorted(videos.glob("*.mp4"))]
        return out


class FaceForensics(_RawTree):
    """FaceForensics++: ``original_sequences/youtube`` real, each manipulation method fake."""

    name, display = "ff++", "FF++"
    real_folders = ("youtube",)
    fake_folders = FF_METHODS
    other_folders = ("actors", "DeepFakeDetection")

    def __init__(self, root, *, split=None, name=None, compression="c23", splits=None):
        super().__init__(root, split=split, name=name, compression=compression)
        self._splits_dir = Path(splits) if splits else None
        self._table: dict[str, str] | None = None

    def _split_table(self) -> dict[str, str] | None:
        """Video id -> split from the official split files (None when there are none and no
        split was asked for)."""
        if self._table is None:
            folder = self._splits_dir or next(
                (d for d in (self.root / "splits", self.root) if (d / "train.json").is_file()),
                None,
            )
            if folder is None:
                if self.split is not None:
                    raise DatasetError(
                        f"{self.root}: FF++ split {self.split!r} needs the official "
                        "train/val/test.json files: put them in <root>/splits or pass splits=DIR"
                    )
                return None
            self._table = load_ff_splits(folder)
        return self._table

    def _split_of(self, video: str) -> str | None:
        table = self._split_table()
        if table is None:
            return None
        if video not in table:
            raise DatasetError(f"{self.root}: video {video!r} is in none of the FF++ split files")
        return table[video]

    def listed_videos(self) -> tuple[str, set[tuple[str, str]]] | None:
        """The split file's videos in every source folder the tree holds (a method the tree
        lacks was not extracted, not lost): real ids for real folders, ``<a>_<b>`` for fakes."""
        table = self._split_table()
        if self.split is None or table is None:
            return None
        sources = [d.name for d in self._source_dirs() if d.name in FF_SOURCES]
        named = {
            (source, video)
            for source in sources
            for video, split in table.items()
            if split == self.split and ("_" in video) == (FF_SOURCES[source] == FAKE)
        }
        return f"split file {self.split}.json", named

    def describe(self, source: str, video: str) -> VideoInfo:
        if source not in FF_SOURCES:
            raise unknown_source(self, source, FF_SOURCES)
        if FF_SOURCES[source] == REAL:
            return VideoInfo(REAL, self._split_of(video), identity=video)
        target, sep, _ = video.partition("_")
        if not sep:
            raise DatasetError(f"{self.root / source / video}: FF++ fake videos are <target>_<src>")
        return VideoInfo(FAKE, self._split_of(video), identity=target, pair=target)


class DeepFakeDetection(_RawTree):
    """DFD (Google/Jigsaw) inside the FF++ tree; no official split (a test set)."""

    name, display = "dfd", "DFD"
    real_folders = ("actors",)
    fake_folders = ("DeepFakeDetection",)
    other_folders = ("youtube", *FF_METHODS)

    def describe(self, source: str, video: str) -> VideoInfo:
        if source not in DFD_SOURCES:
            raise unknown_source(self, source, DFD_SOURCES)
        actor, sep, rest = video.partition("_")
        if DFD_SOURCES[source] == REAL:
            return VideoInfo(REAL, "test", identity=actor)
        # fakes: <target>_<source>__<scene>__<code>; their real is <target>__<scene>
        scene = rest.split("__")[1] if "__" in rest else None
        pair = f"{actor}__{scene}" if sep and scene else None
        return VideoInfo(FAKE, "test", identity=actor, pair=pair)
