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


def discover(inputs: Iterable[Path], exclude: Path | None = None) -> list[Path]:
    """The files ``dfdetect scan`` would read for ``inputs`` (every file, whatever its
    extension: each job sniffs the content), as absolute paths under the names given, minus
    anything under ``exclude`` (the output folder). Sorted, de-duplicated."""
    files, _missing = expand_inputs(inputs)  # the command checked that every input exists
    skip = Path(os.path.abspath(exclude)) if exclude is not None else None
    found = {Path(os.path.abspath(f)) for f in files}
    return sorted(f for f in found if skip is None or not f.is_relative_to(skip))


def _names(path: Path) -> Iterator[str]:
    """Folder names for ``path``'s crops, the plain one first: its stem, its name with the
    extension, then the stem with a hash of the full path."""
    yield safe_name(path.stem)
    yield safe_name(path.name)
    yield f"{safe_name(path.stem)}-{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def plan_jobs(
    inputs: Iterable[Path], options: ExtractOptions
) -> tuple[list[ExtractJob], list[Failure]]:
    """Jobs for every input file, and failures for inputs that cannot become one (missing
    files, missing mask videos)."""
    jobs: list[ExtractJob] = []
    failures: list[Failure] = []
    taken: dict[Path, Path] = {}
    for path in discover(inputs, exclude=options.out):
        if not os.path.lexists(path):  # links that lead nowhere are the job's to report
            failures.append(Failure(str(path), "missing", "no such file or folder"))
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
