"""Turning the command's inputs into one job per video or image, named in the
``<dataset>/<source>/<video>`` layout."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.report import Failure
from dfdetect.media.sniff import MEDIA_EXTENSIONS

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
    """Files named on the command line as given, plus media files (by extension) found
    recursively in folders; hidden files and folders, and anything under ``exclude`` (the
    output folder), are skipped. Sorted, de-duplicated."""
    found: dict[Path, None] = {}
    skip = exclude.resolve() if exclude is not None else None
    for item in inputs:
        if item.is_dir():
            for path in sorted(item.rglob("*")):
                hidden = any(part.startswith(".") for part in path.relative_to(item).parts)
                if path.is_file() and not hidden and path.suffix.lower() in MEDIA_EXTENSIONS:
                    resolved = path.resolve()
                    if skip is None or not resolved.is_relative_to(skip):
                        found.setdefault(resolved, None)
        else:
            found.setdefault(item.resolve(), None)
    return list(found)


def plan_jobs(
    inputs: Iterable[Path], options: ExtractOptions
) -> tuple[list[ExtractJob], list[Failure]]:
    """Jobs for every input file, and failures for inputs that cannot become one (missing
    files, name clashes, missing mask videos)."""
    jobs: list[ExtractJob] = []
    failures: list[Failure] = []
    taken: dict[Path, Path] = {}
    for path in discover(inputs, exclude=options.out):
        if not path.exists():
            failures.append(Failure(str(path), "missing", "no such file or folder"))
            continue
        job = ExtractJob(
            path=path,
            dataset=safe_name(options.dataset),
            source=safe_name(options.source or path.parent.name),
            video=safe_name(path.stem),
        )
        if job.relative_dir() in taken:
            detail = f"same output folder {job.relative_dir()} as {taken[job.relative_dir()]}"
            failures.append(Failure(str(path), "duplicate_name", detail))
            continue
        if options.mask_dir is not None:
            mask = options.mask_dir / path.name
            if not mask.is_file():
                failures.append(Failure(str(path), "mask_missing", f"no mask file {mask}"))
                continue
            job = ExtractJob(job.path, job.dataset, job.source, job.video, mask)
        taken[job.relative_dir()] = path
        jobs.append(job)
    return jobs, failures
