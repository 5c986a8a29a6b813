"""Datasets named in configs and on command lines: ``{dataset, root, split, ...}`` entries or
``NAME=ROOT[@SPLIT]`` strings, loaded through the adapters."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dfdetect.data.adapters import create_dataset
from dfdetect.data.samples import DatasetError, FrameSample
from dfdetect.data.sampling import frames_per_video

UNEXPANDED = re.compile(r"\$\{?\w+\}?")


def parse_data_arg(text: str, split: str | None = None) -> dict[str, Any]:
    """``NAME=ROOT[@SPLIT]`` (or a bare ROOT: the generic folder layout) as an entry mapping.

    ``split`` is the default for entries without ``@SPLIT``; the generic folder layout has no
    splits, so it gets none by default."""
    name, sep, rest = text.partition("=")
    if not sep:
        name, rest = "folder", text
    root, at, entry_split = rest.rpartition("@") if "@" in rest else (rest, "", "")
    entry: dict[str, Any] = {"dataset": name, "root": root}
    if at:
        entry["split"] = entry_split
    elif split is not None and name not in ("folder", "generic"):
        entry["split"] = split
    return entry


def expand_root(root: str | os.PathLike) -> Path:
    """``root`` with ``~`` and ``$VAR``/``${VAR}`` expanded; unset variables are an error."""
    text = os.path.expandvars(os.path.expanduser(str(root)))
    missing = UNEXPANDED.findall(text)
    if missing:
        raise DatasetError(f"{root}: environment variable {missing[0]} is not set")
    return Path(text)


def load_entry(entry: Mapping[str, Any]) -> list[FrameSample]:
    """The samples of one ``{dataset, root, split, <adapter options>}`` entry."""
    options = dict(entry)
    name = options.pop("dataset", "folder")
    if "root" not in options:
        raise DatasetError(f"data entry {dict(entry)!r} has no root")
    root = expand_root(options.pop("root"))
    return create_dataset(name, root, **options).samples()


def load_entries(
    entries: Iterable[Mapping[str, Any]], frames: int | None = None, mode: str = "even"
) -> list[FrameSample]:
    """All entries' samples, at most ``frames`` per video; duplicate videos are an error."""
    samples: list[FrameSample] = []
    for entry in entries:
        samples += load_entry(entry)
    keys = [s.video_key for s in samples]
    if len({(k, s.frame) for k, s in zip(keys, samples, strict=True)}) != len(samples):
        raise DatasetError("the same video appears in more than one data entry")
    return frames_per_video(samples, frames, mode)
