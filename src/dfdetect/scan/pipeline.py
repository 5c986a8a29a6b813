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

    def analyze_path(self, path: str | Path) -> FileResult:
        """Scan one image or video (kind sniffed from its content)."""
        start = time.perf_counter()
        return self._finish([prepare_safely(self.preparer.prepare_path, path)], [start])[0]

    def analyze_image(self, image: np.ndarray, name: str = "<image>") -> FileResult:
        """Scan an in-memory RGB uint8 image (H, W, 3); ``name`` labels the result."""
        start = time.perf_counter()
        prepared = prepare_safely(self.preparer.prepare_image, image, name)
        return self._finish([prepared], [start])[0]

    def scan(self, paths: Iterable[str | Path]) -> Iterator[FileResult]:
        """Scan many files, yielding each result as soon as it is finished (completion order).

        ``options.workers`` threads decode and detect; the calling thread scores the crops of
        every file that is ready, in one ``predict`` call per round.
        """
        todo = iter(list(paths))
        lock = threading.Lock()
        ready: queue.Queue = queue.Queue(maxsize=self.options.queue_size)
        stop = threading.Event()

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    ready.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            try:
                while not stop.is_set():
                    with lock:
                        path = next(todo, None)
                    if path is None:
                        return
                    start = time.perf_counter()
                    if not put((prepare_safely(self.preparer.prepare_path, path), start)):
                        return
            finally:
                put(_DONE)

        threads = [
            threading.Thread(target=work, daemon=True, name=f"scan-{i}")
            for i in range(self.options.workers)
        ]
        for t in threads:
            t.start()
        running = len(threads)
        try:
            while running:
                item = ready.get()
                batch: list[tuple[Prepared, float]] = []
                while True:
                    if item is _DONE:
                        running -= 1
                    else:
                        batch.append(item)
                    if (
                        not running
                        or sum(len(p.faces) for p, _ in batch) >= self.options.batch_size
                    ):
                        break
                    try:
                        item = ready.get_nowait()
                    except queue.Empty:
                        break
                if batch:
                    yield from self._finish([p for p, _ in batch], [s for _, s in batch])
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=5)

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
