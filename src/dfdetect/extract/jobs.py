"""Turning the command's inputs into one job per video or image, named in the
``<dataset>/<source>/<video>`` layout."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.report import Failure
from dfdetect.scan.walk import expand_inputs

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class ExtractJob:
    """One input file and where its crops go."""

    path: Path
    dataset: str
    source: str
    video: str
    mask: Path | None = None

    def relative_dir(self) -> Path:
        return Path(self.dataset, self.source, self.video)


def safe_name(text: str) -> str:
    """A path component from free text: unsafe characters become ``_``, never empty or dots."""
    name = _UNSAFE.sub("_", text).strip("._") or "_"
    return name


def discover(
    inputs: Iterable[Path], exclude: Path | None = None
) -> tuple[list[Path], list[Failure]]:
    """The files named by ``inputs`` (files; folders walked recursively, symlinked folders
    followed, hidden entries skipped; every file whatever its extension: each job sniffs the
    content), as absolute paths under the names given, minus anything under ``exclude`` (the
    output folder), sorted and de-duplicated; and a failure for each input that names nothing
    (``not_found``), folder that cannot be listed (``unreadable``) and symlinked folder that
    leads back into a folder it is in (``symlink_loop``)."""
    found: set[Path] = set()
    failures: list[Failure] = []
    for raw in inputs:
        if Path(raw).is_dir():
            files = _walk(Path(raw), failures)
        else:  # a file, or what scan also takes: a glob or an @LIST
            files, missing = expand_inputs([raw])
            failures += [Failure(m, "not_found", "no such file or folder") for m in missing]
        found.update(Path(os.path.abspath(f)) for f in files)
    skip = Path(os.path.abspath(exclude)) if exclude is not None else None
    return sorted(f for f in found if skip is None or not f.is_relative_to(skip)), failures


def _walk(folder: Path, failures: list[Failure]) -> list[Path]:
    """Files under ``folder``, sorted, hidden entries skipped, symlinked folders followed unless
    they lead back to a folder on the way down (reported in ``failures``, as are folders that
    cannot be listed)."""
    files: list[Path] = []
    stack = [(folder, frozenset[str]())]
    while stack:
        path, above = stack.pop()
        real = os.path.realpath(path)
        if real in above:
            failures.append(Failure(str(path), "symlink_loop", f"leads back to {real}"))
            continue
        try:
            with os.scandir(path) as it:
                entries = sorted(
                    (e for e in it if not e.name.startswith(".")), key=lambda e: e.name
                )
        except OSError as exc:
            failures.append(Failure(str(path), "unreadable", exc.strerror or str(exc)))
            continue
        for entry in reversed(entries):  # the stack pops them in name order
            if entry.is_dir():  # follows a symlink
                stack.append((path / entry.name, above | {real}))
            else:
                files.append(path / entry.name)
    return files


def _names(path: Path) -> Iterator[str]:
    """Folder names for ``path``'s crops, the plain one first: its stem, its name with the
    extension, then the stem with a hash of the full path."""
    yield safe_name(path.stem)
    yield safe_name(path.name)
    yield f"{safe_name(path.stem)}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def plan_jobs(
    inputs: Iterable[Path], options: ExtractOptions
) -> tuple[list[ExtractJob], list[Failure]]:
    """Jobs for every input file, and failures for inputs that cannot become one (see
    :func:`discover`; missing mask videos)."""
    jobs: list[ExtractJob] = []
    taken: dict[Path, Path] = {}
    paths, failures = discover(inputs, exclude=options.out)
    for path in paths:
        if not os.path.lexists(path):  # gone since the walk; links that lead nowhere are the job's
            failures.append(Failure(str(path), "not_found", "no such file or folder"))
            continue
        dataset = safe_name(options.dataset)
        source = safe_name(options.source or path.parent.name)
        for video in _names(path):  # same-name files (clip.mp4, clip.avi) are kept apart
            job = ExtractJob(path=path, dataset=dataset, source=source, video=video)
            if job.relative_dir() not in taken:
                break
        if options.mask_dir is not None:
            mask = options.mask_dir / path.name
            if not mask.is_file():
                failures.append(Failure(str(path), "mask_missing", f"no mask file {mask}"))
                continue
            job = ExtractJob(job.path, job.dataset, job.source, job.video, mask)
        taken[job.relative_dir()] = path
        jobs.append(job)
    return jobs, failures
