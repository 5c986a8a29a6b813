"""A scan on Ray Data: the dataset of stages, and the driver loop that resumes from the
output, writes each file's result once, shows progress and counts verdicts."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:
    import ray
    import ray.data
except ImportError as exc:
    raise ImportError(
        "the Ray engine needs Ray Data: pip install 'dfdetect[cluster]' (or 'ray[data]')"
    ) from exc

from rich.console import Console

from dfdetect.errors import DfdetectError
from dfdetect.progress import progress_bar
from dfdetect.scan.cluster.options import ClusterOptions
from dfdetect.scan.cluster.output import BatchWriter, Finished, OutputError, read_finished
from dfdetect.scan.cluster.stages import (
    ModelWorker,
    assemble_files,
    describe_model,
    hash_files,
    prepare_files,
)
from dfdetect.scan.console import ScanTally
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.results import NOT_FOUND, STATUS_ERROR, FileResult
from dfdetect.scan.walk import why_missing
from dfdetect.scan.writers import output_format

ASSEMBLE_CPUS = 0.25  # tracking and verdicts: light work beside the prepare tasks


class ClusterError(DfdetectError):
    """Ray could not be reached, or a stage failed beyond its retries."""


@dataclass
class ClusterReport:
    """What a Ray scan did: files named, results written now, files finished earlier (left
    as they were), the verdicts of all of them, the first results written, the wall time."""

    total: int
    written: int = 0
    skipped: int = 0
    tally: ScanTally = field(default_factory=ScanTally)
    first: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.tally.counts["error"] > 0

    @property
    def files_per_s(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def scan_on_ray(
    sources: list[str],
    out: str | Path,
    *,
    missing: Sequence[str] = (),
    model: str,
    options: ScanOptions,
    cluster: ClusterOptions,
    device: str | None = None,
    console: Console | None = None,
    keep_first: int = 200,
    face_detector: str | None = None,
    scrfd_model: str | None = None,
    runtime: str = "auto",
) -> ClusterReport:
    """Scan ``sources`` (local paths or URLs) on Ray into ``out`` (``.parquet`` folder,
    ``.jsonl`` or ``.csv``), skipping files ``out`` already holds a result for; each of the
    ``missing`` inputs (named no file) gets a ``not_found`` result (once: a re-run that finds
    it in ``out`` counts it again without writing it twice).

    Joins the Ray of ``cluster.address`` (or the one this process already joined), else
    starts a local one for the scan. Faces are cut as the model's face pipeline says
    (``face_detector`` and ``scrfd_model`` as in :func:`dfdetect.faces.pipeline.choose_detector`;
    SCRFD weights must be readable on every node). The model workers score on ``runtime`` (see
    :func:`dfdetect.model.loading.load_predictor`). Progress is drawn on ``console`` when given.
    Raises
    :class:`~dfdetect.errors.DfdetectError` when the model cannot be loaded and
    :class:`~dfdetect.scan.cluster.output.OutputError` when ``out`` holds results of another
    model or options, or another scan is writing to it, and :class:`ClusterError` when Ray
    cannot be reached or a stage fails beyond its retries (what was written is kept).
    """
    out = Path(out)
    fmt = output_format(out, "ray")
    started = time.perf_counter()
    report = ClusterReport(total=len(sources) + len(missing))
    try:
        own_ray = _join_ray(cluster.address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot start or reach Ray at {cluster.address}: {exc}") from exc
    try:
        facts = _describe(model, options, face_detector, scrfd_model)
        writer = BatchWriter(out, fmt, part_rows=cluster.part_rows, flush_s=cluster.flush_s)
        progress = progress_bar(console=console, enabled=console is not None)
        task = progress.add_task("scan", total=report.total, unit="files")
        try:
            finished = read_finished(out, fmt)
            others = {f.model_key for f in finished.values()} - {facts["key"]}
            if others:
                raise OutputError(
                    f"{out} holds results of another model or other options "
                    f"({sorted(others)[0]!r}, this scan: {facts['key']!r}); use a new --out"
                )
            with progress, _quiet_data_context():
                done = _unchanged(sources, finished, options, cluster)
                for source in done:
                    f = finished[source]
                    report.tally.add(f.status, f.label, f.reason, f.faces_skipped)
                report.skipped = len(done)
                progress.advance(task, len(done))
                _write_missing(missing, finished, facts["key"], model, writer, report, keep_first)
                progress.advance(task, len(missing))
                todo = [s for s in sources if s not in done]
                if todo:
                    dataset = _dataset(todo, (model, device, runtime), options, cluster, facts)
                    advance = functools.partial(progress.advance, task)
                    _drain(dataset, writer, report, keep_first, advance)
        finally:
            writer.close()
    except ray.exceptions.RayError as exc:
        raise ClusterError(
            f"the scan stopped ({type(exc).__name__}: {exc}); the {report.written} results "
            "written are kept: run it again to resume"
        ) from exc
    finally:
        if own_ray:
            ray.shutdown()
    report.seconds = time.perf_counter() - started
    return report


def _write_missing(missing, finished, key, model, writer, report, keep_first) -> None:
    """The ``not_found`` results of inputs that named no file, written unless ``out`` holds
    them from an earlier run; all of them counted."""
    fresh = []
    for entry in missing:
        report.tally.add(STATUS_ERROR, None, NOT_FOUND)
        if (earlier := finished.get(entry)) is not None and earlier.reason == NOT_FOUND:
            report.skipped += 1
            continue
        result = FileResult.not_found(entry, why_missing(entry))
        result.model, result.model_key = model, key
        fresh.append(json.dumps(result.to_dict()))
        if len(report.first) < keep_first:
            report.first.append(result)
    if fresh:
        writer.write(fresh)
        report.written += len(fresh)


def _join_ray(address: str | None) -> bool:
    """Connect to Ray unless this process already is; True when we started it here. Worker
    lines Ray forwards keep their colour codes for a terminal only."""
    if not sys.stderr.isatty():
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")  # read by Ray as it prints each line
    if ray.is_initialized():
        return False
    local = address is None
    ray.init(
        address=address,
        logging_level=logging.WARNING,
        **({"include_dashboard": False} if local else {}),
    )
    return local


class _DropOwnSettingNotes(logging.Filter):
    """Ray Data's console notes about what we set on purpose (its progress bars off)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Progress bars disabled")


@contextlib.contextmanager
def _quiet_data_context() -> Iterator[None]:
    """While we draw our own progress: no Ray Data progress bars, start-up banner or INFO
    lines on the console (its log file under the Ray session keeps everything)."""
    context = ray.data.DataContext.get_current()
    saved = context.enable_progress_bars, context.print_on_execution_start
    context.enable_progress_bars = context.print_on_execution_start = False
    consoles = [
        (h, h.level)
        for h in logging.getLogger("ray.data").handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    notes = _DropOwnSettingNotes()
    for handler, _ in consoles:
        handler.setLevel(max(handler.level, logging.WARNING))
        handler.addFilter(notes)
    try:
        yield
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved
        for handler, level in consoles:
            handler.setLevel(level)
            handler.removeFilter(notes)


def _describe(model: str, options: ScanOptions, *face_choice: str | None) -> dict:
    """:func:`describe_model` in a Ray task; a model that cannot be loaded raises its own
    error here, not Ray's wrapper."""
    task = ray.remote(num_cpus=1, max_retries=0)(describe_model)
    try:
        return ray.get(task.remote(model, options, *face_choice))
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, DfdetectError):
            raise exc.cause from None
        raise


def _unchanged(sources, finished: dict[str, Finished], options, cluster) -> set[str]:
    """The sources the output holds a result for whose content has not changed since (their
    hashes computed in Ray tasks): these are skipped."""
    candidates = [{"source": s} for s in sources if s in finished]
    if not candidates:
        return set()
    blocks = max(1, math.ceil(len(candidates) / (4 * cluster.files_per_task)))
    hashed = ray.data.from_items(candidates, override_num_blocks=blocks).map_batches(
        hash_files,
        batch_format="pyarrow",
        fn_kwargs={"max_file_mb": options.max_file_mb},
        num_cpus=cluster.prepare_cpus,
    )
    return {
        row["source"]
        for table in hashed.iter_batches(batch_size=None, batch_format="pyarrow")
        for row in table.to_pylist()
        if row["sha256"] == finished[row["source"]].sha256
    }


def _dataset(sources, loading, options, cluster, facts) -> ray.data.Dataset:
    """hash + prepare (CPU tasks) -> score (model actors) -> assemble (CPU tasks); ``loading``
    is (model, device, runtime) of the model actors."""
    model, device, runtime = loading
    items = [{"source": s} for s in sources]
    blocks = max(1, math.ceil(len(items) / cluster.files_per_task))
    workers, gpus = cluster.model_pool(ray.cluster_resources().get("GPU", 0.0))
    retries = {"max_retries": cluster.max_retries, "retry_exceptions": True}
    restarts = {"max_restarts": cluster.max_retries, "max_task_retries": cluster.max_retries}
    assemble_kwargs = {
        "threshold": facts["threshold"],
        "options": options,
        "model": model,
        "model_key": facts["key"],
        "face_pipeline": facts["face_pipeline"],
    }
    model_kwargs = {
        "model": model,
        "device": device,
        "batch_size": options.batch_size,
        "runtime": runtime,
    }
    with warnings.catch_warnings():
        # Ray 2.60 deprecates retry limits given as remote args but offers no other way to
        # set them per stage; the [cluster] extra pins Ray below 2.64, which drops them.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        return (
            ray.data.from_items(items, override_num_blocks=blocks)
            .map_batches(
                prepare_files,
                batch_format="pyarrow",
                fn_kwargs={"options": options, "face_pipeline": facts["face_pipeline"]},
                num_cpus=cluster.prepare_cpus,
                **retries,
            )
            .map_batches(
                ModelWorker,
                batch_format="pyarrow",
                batch_size=cluster.model_batch_files,
                fn_constructor_kwargs=model_kwargs,
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_gpus=gpus,
                num_cpus=cluster.model_cpus,
                **restarts,
            )
            .map_batches(
                assemble_files,
                batch_format="pyarrow",
                fn_kwargs=assemble_kwargs,
                num_cpus=ASSEMBLE_CPUS,
                **retries,
            )
        )


def _drain(dataset, writer: BatchWriter, report: ClusterReport, keep_first: int, advance) -> None:
    """Write each result as its batch arrives (each file once), count the verdicts."""
    seen: set[str] = set()
    for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        results = []
        for row in table.to_pylist():
            if row["source"] in seen:  # a retried task's output that already arrived
                continue
            seen.add(row["source"])
            report.tally.add(row["status"], row["label"], row["reason"], row["faces_skipped"])
            results.append(row["result"])
            if len(report.first) < keep_first:
                report.first.append(FileResult.from_dict(json.loads(row["result"])))
        writer.write(results)
        report.written += len(results)
        advance(len(results))
