"""Celeb-DF v1 / v2 with the official ``List_of_testing_videos.txt``."""

from __future__ import annotations

from pathlib import Path

from dfdetect.data.layouts.base import DatasetLayout, VideoInfo, unknown_source
from dfdetect.data.samples import FAKE, REAL, DatasetError

CDF_SOURCES = {"Celeb-real": REAL, "YouTube-real": REAL, "Celeb-synthesis": FAKE}
LIST_LABELS = {"1": REAL, "0": FAKE}  # the official list writes 1 for real, 0 for fake
TEST_LIST = "List_of_testing_videos.txt"


def load_test_list(path: Path) -> dict[tuple[str, str], int]:
    """(source, video) -> label from the official test list (lines ``<label> <folder>/<name>``)."""
    table: dict[tuple[str, str], int] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in LIST_LABELS or "/" not in parts[1]:
            raise DatasetError(f"{path}:{n}: expected '<1|0> <folder>/<name>.mp4', got {line!r}")
        folder, name = parts[1].split("/", 1)
        table[(folder, Path(name).stem)] = LIST_LABELS[parts[0]]
    return table


class CelebDF(DatasetLayout):
    """Celeb-DF: ``Celeb-real``/``YouTube-real`` real, ``Celeb-synthesis`` fake."""

    name, display = "cdfv2", "CDFv2"

    def __init__(self, root, *, split=None, name=None, test_list=None):
        super().__init__(root, split=split, name=name)
        path = Path(test_list) if test_list else self.root / TEST_LIST
        self._test: dict[tuple[str, str], int] | None = None
        self._test_name = path.name
        if path.is_file():
            self._test = load_test_list(path)
        elif test_list or self.split is not None:
            raise DatasetError(f"{path}: Celeb-DF test list missing (needed for split selection)")

    def listed_videos(self) -> tuple[str, set[tuple[str, str]]] | None:
        """The test split: every video of the official test list."""
        if self.split != "test" or self._test is None:
            return None
        return self._test_name, set(self._test)

    def describe(self, source: str, video: str) -> VideoInfo:
        if source not in CDF_SOURCES:
            raise unknown_source(self, source, CDF_SOURCES)
        label = CDF_SOURCES[source]
        split = None
        if self._test is not None:
            listed = self._test.get((source, video))
            if listed is not None and listed != label:
                raise DatasetError(
                    f"{self.root / source / video}: test list says label {listed}, "
                    f"folder {source!r} says {label}"
                )
            split = "test" if listed is not None else "train"
        parts = video.split("_")
        if source == "Celeb-synthesis" and len(parts) == 3:  # id<target>_id<source>_<clip>
            return VideoInfo(FAKE, split, identity=parts[0], pair=f"{parts[0]}_{parts[2]}")
        identity = parts[0] if source == "Celeb-real" else None
        return VideoInfo(label, split, identity=identity)


class CelebDFv1(CelebDF):
    """Celeb-DF v1: same layout and list format as v2."""

    name, display = "cdfv1", "CDFv1"
