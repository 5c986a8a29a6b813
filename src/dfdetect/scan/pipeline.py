"""ScanPipeline: files in, verdicts out, with decoding and face detection in worker threads
feeding the model through a bounded queue, and faces of many files scored together."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from dfdetect.faces.pipeline import FacePipeline
from dfdetect.scan.assemble import build_result
from dfdetect.scan.options import ScanOptions
from dfdetect.scan.prepare import FacePreparer, Prepared, prepare_safely
from dfdetect.scan.results import FileResult
from dfdetect.scan.visuals import build_visuals

_DONE = object()


class ScanPipeline:
    """Scores every face in images and videos and aggregates them into verdicts.

    ``predictor`` needs only ``predict(crops) -> (N,) P(fake)``, ``threshold`` and ``config``
    (a :class:`~dfdetect.model.config.DetectorConfig`), so a batching wrapper can stand in for a
    :class:`~dfdetect.Detector`. ``face_detector`` is a
    :func:`dfdetect.faces.create_face_detector` detector; ``face_pipeline`` (default: the
    model's own) gives the crop preset and the per-person aggregation, and is recorded in
    every result. With ``options.explain``, heatmaps are computed with ``explainer`` (default:
    ``predictor``, which must then be a Detector).
    """

    def __init__(
        self,
        predictor,
        face_detector,
        options: ScanOptions | None = None,
        *,
        explainer=None,
        face_pipeline: FacePipeline | None = None,
    ):
        self.predictor = predictor
        self.options = options or ScanOptions()
        self.face_pipeline = face_pipeline or predictor.config.face_pipeline
        self.preset = self.face_pipeline.crop
        self.explainer = explainer if explainer is not None else predictor
        if self.options.explain and not hasattr(self.explainer, "forward"):
            raise ValueError("options.explain needs a Detector (gradients): pass explainer=")
        self.preparer = FacePreparer(face_detector, self.preset, self.options)

    @property
    def threshold(self) -> float:
        return float(self.predictor.threshold)

    def analyze_path(self, path: str | Path, cancel: threading.Event | None = None) -> FileResult:
        """Scan one image or video (kind sniffed from its content); raises
        :class:`~dfdetect.errors.Cancelled` between frames once ``cancel`` is set."""
        start = time.perf_counter()
        prepared = prepare_safely(self.preparer.prepare_path, path, cancel=cancel)
        return self._finish([prepared], [start])[0]

    def analyze_image(self, image: np.ndarray, name: str = "<image>") -> FileResult:
        """Scan an in-memory RGB uint8 image (H, W, 3); ``name`` labels the result."""
        start = time.perf_counter()
        prepared = prepare_safely(self.preparer.prepare_image, image, name)
        return self._finish([prepared], [start])[0]

    def scan(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        """Scan many files, yielding each result as soon as it is finished (completion order).

        ``options.workers`` threads decode and detect; the calling thread scores the crops of
        every file that is ready, in one ``predict`` call per round. A file whose decoding and
        detection outlast ``options.file_timeout_s`` gets reason ``timeout``: its thread is
        abandoned (it cannot be killed; what it returns is dropped) and a fresh one takes over.
        """
        pool = _PreparePool(self.preparer.prepare_path, paths, self.options)
        try:
            while pool.running:
                try:
                    item = pool.ready.get(timeout=pool.wait_s())
                except queue.Empty:
                    overdue = pool.abandon_overdue()
                    if overdue:
                        yield from self._finish(
                            [self._timed_out(busy_path) for busy_path, _ in overdue.values()],
                            [start for _, start in overdue.values()],
                        )
                    continue
                batch = pool.collect(item, self.options.batch_size)
                if batch:
                    yield from self._finish([p for p, _ in batch], [s for _, s in batch])
        finally:
            pool.close()

    def _timed_out(self, path: str | Path) -> Prepared:
        limit = self.options.file_timeout_s
        detail = f"decoding and face detection took over {limit:g} s (--file-timeout)"
        return Prepared(path=str(path), error={"reason": "timeout", "detail": detail})

    def _finish(self, batch: list[Prepared], starts: list[float]) -> list[FileResult]:
        """Score the crops of every prepared file in one call, then build their results."""
        crops = [f.crop for p in batch for f in p.faces]
        probs = np.asarray(self.predictor.predict(crops), np.float64) if crops else np.zeros(0)
        results, offset = [], 0
        for prepared, start in zip(batch, starts, strict=True):
            n = len(prepared.faces)
            result = self._result(prepared, probs[offset : offset + n])
            offset += n
            result.elapsed_s = round(time.perf_counter() - start, 4)
            results.append(result)
        return results

    def _result(self, prepared: Prepared, probs: np.ndarray) -> FileResult:
        result = build_result(prepared, probs, self.threshold, self.options, self.face_pipeline)
        if self.options.explain and prepared.error is None:
            result.visuals = build_visuals(
                prepared, result, self.explainer, self.options.max_heatmaps
            )
        return result


class _PreparePool:
    """The worker threads of :meth:`ScanPipeline.scan`: each takes the next file, decodes and
    detects it and puts ``(prepared, start, worker)`` on the bounded ``ready`` queue, then
    ``_DONE`` when no file is left. A worker whose file outlasts ``options.file_timeout_s`` is
    abandoned (what it returns later is dropped) and a fresh one takes over."""

    def __init__(self, prepare_path, paths: Iterable[str | Path], options: ScanOptions) -> None:
        self.prepare_path = prepare_path
        self.todo = iter(list(paths))
        self.lock = threading.Lock()
        self.ready: queue.Queue = queue.Queue(maxsize=options.queue_size)
        self.stop = threading.Event()
        self.busy: dict[int, tuple[str | Path, float]] = {}  # worker -> (its file, start time)
        self.abandoned: set[int] = set()
        self.budget = options.file_timeout_s
        self.threads: dict[int, threading.Thread] = {}
        for _ in range(options.workers):
            self._spawn()
        self.running = len(self.threads)  # workers that have not put their _DONE yet

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, wid: int) -> None:
        try:
            while not self.stop.is_set() and wid not in self.abandoned:
                with self.lock:
                    path = next(self.todo, None)
                    start = time.perf_counter()
                    if path is not None:
                        self.busy[wid] = (path, start)
                if path is None:
                    return
                prepared = prepare_safely(self.prepare_path, path)
                with self.lock:
                    self.busy.pop(wid, None)
                if not self._put((prepared, start, wid)):
                    return
        finally:
            self._put((_DONE, 0.0, wid))

    def _spawn(self) -> None:
        wid = len(self.threads)
        self.threads[wid] = threading.Thread(
            target=self._work, args=(wid,), daemon=True, name=f"scan-{wid}"
        )
        self.threads[wid].start()

    def wait_s(self) -> float | None:
        """How long the scoring loop may wait for a file before checking for overdue ones."""
        if self.budget is None:
            return None
        with self.lock:
            starts = [start for _, start in self.busy.values()]
        if not starts:
            return self.budget
        return max(0.01, min(starts) + self.budget - time.perf_counter())

    def abandon_overdue(self) -> dict[int, tuple[str | Path, float]]:
        """Abandon the workers whose file is past the budget, start one fresh worker for each,
        and return their ``{worker: (file, start)}``."""
        if self.budget is None:
            return {}
        now = time.perf_counter()
        with self.lock:
            late = {wid: job for wid, job in self.busy.items() if now - job[1] > self.budget}
            for wid in late:
                del self.busy[wid]
        self.abandoned.update(late)
        for _ in late:
            self._spawn()
        return late

    def collect(self, item, max_faces: int) -> list[tuple[Prepared, float]]:
        """``item`` and whatever else is ready, up to ``max_faces`` faces: one scoring round's
        ``(prepared, start)`` pairs (workers' ends are counted off ``running``)."""
        batch: list[tuple[Prepared, float]] = []
        while True:
            prepared, start, wid = item
            if wid in self.abandoned:
                pass  # an abandoned thread's late result or end: already reported
            elif prepared is _DONE:
                self.running -= 1
            else:
                batch.append((prepared, start))
            if not self.running or sum(len(p.faces) for p, _ in batch) >= max_faces:
                return batch
            try:
                item = self.ready.get_nowait()
            except queue.Empty:
                return batch

    def close(self) -> None:
        """Stop the workers and wait briefly for those not abandoned."""
        self.stop.set()
        for wid, t in self.threads.items():
            if wid not in self.abandoned:
                t.join(timeout=5)
