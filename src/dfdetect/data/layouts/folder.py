"""A generic crop tree: ``root/<source>/<video>/<frame>.png`` with a source -> label table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from dfdetect.data.layouts.base import DatasetLayout, VideoInfo, unknown_source
from dfdetect.data.samples import FAKE, REAL, DatasetError, parse_label

LABEL_NAMES = {"real": REAL, "fake": FAKE, "0": REAL, "1": FAKE}
LABELS_FILE = "labels.json"


class FolderDataset(DatasetLayout):
    """Any crop tree. Labels per source folder come from ``labels`` (a mapping, or a JSON file,
    default ``root/labels.json``), else the folders must be named ``real`` and ``fake``.
    """

    name, display = "folder", "folder"

    def __init__(self, root, *, split=None, name=None, labels: Mapping | str | None = None):
        super().__init__(root, split=split, name=name or Path(root).name)
        if split is not None and split != "all":
            raise DatasetError("the generic folder layout has no splits: use one folder per split")
        default_file = self.root / LABELS_FILE
        if isinstance(labels, str | Path) or (labels is None and default_file.is_file()):
            path = Path(labels) if labels else default_file
            try:
                labels = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                msg = f"{path}: cannot read the source -> label table ({exc})"
                raise DatasetError(msg) from exc
            where = str(path)
        else:
            where = "labels"
        if not isinstance(labels, Mapping | None):
            raise DatasetError(f"{where}: expected a mapping source -> real|fake")
        raw = labels if labels is not None else {"real": "real", "fake": "fake"}
        self._labels = {
            str(k): parse_label(str(v), LABEL_NAMES, f"{where}: {k}") for k, v in raw.items()
        }

    def describe(self, source: str, video: str) -> VideoInfo:
        if source not in self._labels:
            raise unknown_source(self, source, self._labels)
        return VideoInfo(self._labels[source])
