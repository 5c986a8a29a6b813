"""Running extraction jobs over worker processes with a progress bar, then writing the
manifest and the failure report."""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from dfdetect.extract.jobs import ExtractJob, plan_jobs
from dfdetect.extract.manifest import rebuild_manifest
from dfdetect.extract.options import ExtractOptions
from dfdetect.extract.report import Failure, write_failure_report
from dfdetect.extract.settings import check_settings
from dfdetect.extract.worker import JobResult, run_job
from dfdetect.faces.detectors import create_face_detector
from dfdetect.faces.face import FaceDetector
from dfdetect.progress import progress_bar


@dataclass
class ExtractSummary:
    """Counts of one run and where its outputs are."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    crops: int = 0
    frames: int = 0
    failures: list[Failure] = field(default_factory=list)
    manifest: Path | None = None
    manifest_rows: int = 0
    failure_csv: Path | None = None
    failure_json: Path | None = None

    @property
    def inputs(self) -> int:
        """Every input file, each counted once: done + skipped + failed."""
        return self.done + self.skipped + self.failed

    @property
    def by_reason(self) -> Counter[str]:
        """Why files failed (one reason per failed file)."""
        return Counter(f.reason for f in self.failures if f.frame_index is None)

    @property
    def frame_failures(self) -> int:
        """Sampled frames of otherwise usable files that gave no crop."""
        return sum(f.frame_index is not None for f in self.failures)


_worker_detector: FaceDetector | None = None


def _build_detector(options: ExtractOptions) -> FaceDetector:
    return create_face_detector(
        options.detector,
        device=options.device,
        min_face_size=options.min_face_size,
        threshold=options.threshold,
        batch_size=options.batch_size,
        **dict(options.detector_options),
    )


def _init_worker(options: ExtractOptions, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    global _worker_detector
    _worker_detector = _build_detector(options)


def _run_in_worker(job: ExtractJob, options: ExtractOptions) -> JobResult:
    assert _worker_detector is not None, "worker not initialised"
    return run_job(job, _worker_detector, options)


def run_extraction(
    inputs: Sequence[Path], options: ExtractOptions, console: Console | None = None
) -> ExtractSummary:
    """Extract every input into ``options.out``; bad inputs are reported, never fatal.
    Raises :class:`~dfdetect.extract.settings.SettingsMismatch` (before any work) when a
    finished folder of these inputs was made with other settings, unless ``options.overwrite``."""
    console = console or Console(stderr=True)
    options.out.mkdir(parents=True, exist_ok=True)
    jobs, failures = plan_jobs(inputs, options)
    if not options.overwrite:
        check_settings(jobs, options)  # before any work: old crops are never passed off as new
    summary = ExtractSummary(failed=len(failures), failures=list(failures))
    with progress_bar(
        "files  {task.fields[crops]} crops", counter="frames", console=console
    ) as progress:
        task = progress.add_task("extract", total=len(jobs), crops=0, frames=0)
        for result in _results(jobs, options):
            _account(summary, result)
            progress.update(task, advance=1, crops=summary.crops, frames=summary.frames)
    summary.manifest, summary.manifest_rows = rebuild_manifest(options.out)
    summary.failure_csv, summary.failure_json = write_failure_report(options.out, summary.failures)
    return summary


def _results(jobs: list[ExtractJob], options: ExtractOptions):
    """Job results as they finish; a job that crashes becomes an ``error`` failure."""
    if not jobs:
        return
    if options.workers <= 1:
        detector = _build_detector(options)
        for job in jobs:
            yield _guarded(job, lambda job=job: run_job(job, detector, options))
        return
    _build_detector(options)  # fail here, once, on a bad name, device or missing weights
    threads = max(1, (os.cpu_count() or 1) // options.workers)
    context = multiprocessing.get_context("spawn")  # torch is not fork-safe
    with ProcessPoolExecutor(
        options.workers, mp_context=context, initializer=_init_worker, initargs=(options, threads)
    ) as pool:
        futures: dict[Future[JobResult], ExtractJob] = {
            pool.submit(_run_in_worker, job, options): job for job in jobs
        }
        for future in as_completed(futures):
            yield _guarded(futures[future], future.result)


def _guarded(job: ExtractJob, get) -> JobResult:
    try:
        return get()
    except Exception as exc:  # a bug or an exotic decoder error must not stop the run
        failure = Failure(str(job.path), "error", f"{type(exc).__name__}: {exc}")
        return JobResult(job, "failed", failures=[failure])


def _account(summary: ExtractSummary, result: JobResult) -> None:
    if result.status == "done":
        summary.done += 1
    elif result.status == "skipped":
        summary.skipped += 1
    else:
        summary.failed += 1
    summary.crops += result.n_crops
    summary.frames += result.n_frames
    summary.failures.extend(result.failures)
