"""Datasets named in configs and on command lines: ``{dataset, root, split, ...}`` entries or
``NAME=ROOT[@SPLIT]`` strings, loaded through the layouts."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from dfdetect.data.accounting import Accounting
from dfdetect.data.layouts import create_dataset
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
    if not root.strip():
        raise DatasetError(f"--data {text!r}: the dataset root is empty (an unset variable?)")
    entry: dict[str, Any] = {"dataset": name, "root": root}
    if at:
        entry["split"] = entry_split
    elif split is not None and name not in ("folder", "generic"):
        entry["split"] = split
    return entry


def expand_root(root: str | os.PathLike) -> Path:
    """``root`` with ``~`` and ``$VAR``/``${VAR}`` expanded; unset variables and an empty
    root (which would mean the current folder) are errors."""
    if not str(root).strip():
        raise DatasetError("a data entry's root is empty (an unset variable?)")
    text = os.path.expandvars(os.path.expanduser(str(root)))
    missing = UNEXPANDED.findall(text)
    if missing:
        raise DatasetError(f"{root}: environment variable {missing[0]} is not set")
    return Path(text)


def open_entry(
    entry: Mapping[str, Any], frames: int | None = None, mode: str = "even"
) -> tuple[list[FrameSample], Accounting]:
    """The samples of one ``{dataset, root, split, <layout options>}`` entry, at most
    ``frames`` per video (chosen by ``mode``), and the :class:`Accounting` of its videos."""
    options = dict(entry)
    name = options.pop("dataset", "folder")
    if "root" not in options:
        raise DatasetError(f"data entry {dict(entry)!r} has no root")
    root = expand_root(options.pop("root"))
    samples, accounting = create_dataset(name, root, **options).load()
    samples = frames_per_video(samples, frames, mode)
    return samples, replace(accounting, frames=len(samples))


def open_entries(
    entries: Iterable[Mapping[str, Any]], frames: int | None = None, mode: str = "even"
) -> tuple[list[FrameSample], list[Accounting]]:
    """All entries' samples (at most ``frames`` per video) and each entry's accounting (print
    :meth:`Accounting.line`, record :meth:`Accounting.to_dict`); the same video in two entries
    is an error."""
    samples: list[FrameSample] = []
    accounts: list[Accounting] = []
    for entry in entries:
        more, accounting = open_entry(entry, frames, mode)
        samples += more
        accounts.append(accounting)
    if len({(s.video_key, s.frame) for s in samples}) != len(samples):
        raise DatasetError("the same video appears in more than one data entry")
    return sorted(samples, key=lambda s: s.video_key), accounts  # videos in key order


def load_entries(
    entries: Iterable[Mapping[str, Any]], frames: int | None = None, mode: str = "even"
) -> list[FrameSample]:
    """All entries' samples, at most ``frames`` per video; duplicate videos are an error."""
    return open_entries(entries, frames, mode)[0]
