"""Scores cached per (model, data, stage, cell): a re-run, or a run adding models or
perturbations, scores only what it has not scored before."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dfdetect.data.samples import FrameSample

VERSION = 1  # bump when a perturbation's pixels or the cached columns change


def digest(*parts: Any) -> str:
    """A short SHA-256 of ``parts`` written as JSON."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def files_key(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of each file: what the data key records of the media."""
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append((str(p), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(p), -1, -1))
    return out


def samples_key(samples: Sequence[FrameSample]) -> list[Any]:
    """What identifies a crop set: names, labels and the crop files."""
    names = [(s.dataset, s.source, s.video, s.frame, s.label) for s in samples]
    return [names, files_key(s.path for s in samples)]


class ScoreCache:
    """``root/<model>/<cell>-<data>.csv``: one frame table per cell, with a JSON of its
    unreadable crops beside it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, model: str, data: str, cell: str) -> Path:
        return self.root / model / f"{cell}-{data}.csv"

    def load(self, model: str, data: str, cell: str) -> tuple[pd.DataFrame, list] | None:
        """The cached frame table and failures, or None."""
        path = self._path(model, data, cell)
        if not path.is_file():
            return None
        frames = pd.read_csv(path, dtype={"source": str, "video": str, "frame": str})
        failures = json.loads(path.with_suffix(".json").read_text())["failures"]
        return frames, [tuple(f) for f in failures]

    def save(self, model: str, data: str, cell: str, frames: pd.DataFrame, failures) -> None:
        """Store a cell's frame table (written to a temporary name, then renamed)."""
        path = self._path(model, data, cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".json").write_text(json.dumps({"failures": list(failures)}) + "\n")
        tmp = path.with_suffix(".tmp")
        frames.to_csv(tmp, index=False)
        tmp.replace(path)
