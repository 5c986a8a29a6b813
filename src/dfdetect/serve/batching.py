"""Dynamic batching: faces from concurrent requests share one model call.

:class:`DynamicBatcher` stands in for a :class:`~dfdetect.Detector` wherever only
``predict(faces)`` and ``threshold``/``config`` are used (the scan pipeline), so every request
thread calls ``predict`` as usual while one model thread merges what arrives within a short wait
bound into a single batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

import numpy as np


class Predictor(Protocol):
    """What the batcher wraps: a Detector, or anything scoring faces the same way."""

    threshold: float
    config: Any

    def predict(self, faces: Sequence[Any], batch_size: int = ...) -> np.ndarray: ...


_STOP = object()


class DynamicBatcher:
    """Merges concurrent ``predict`` calls into model calls of at most ``max_batch`` faces.

    A call waits at most ``max_wait_s`` for others to join its batch; a call larger than
    ``max_batch`` runs alone (the predictor splits it). ``on_batch(n)`` is told each batch size.
    """

    def __init__(
        self,
        predictor: Predictor,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1 or max_wait_s < 0:
            raise ValueError(f"need max_batch >= 1, max_wait_s >= 0; got {max_batch}, {max_wait_s}")
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._requests: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="dfdetect-batcher", daemon=True)
        self._thread.start()

    @property
    def threshold(self) -> float:
        """The wrapped predictor's decision threshold."""
        return self.predictor.threshold

    @property
    def config(self) -> Any:
        """The wrapped predictor's config (preprocessing, face crop, threshold)."""
        return self.predictor.config

    def predict(self, faces: Sequence[Any], batch_size: int | None = None) -> np.ndarray:
        """P(fake) per face, like ``Detector.predict``; blocks until this call's batch ran."""
        del batch_size  # batches are formed here, across callers
        if len(faces) == 0:
            return np.zeros(0, dtype=np.float32)
        if not self._thread.is_alive():
            raise RuntimeError("the batcher is closed")
        future: Future = Future()
        self._requests.put((list(faces), future))
        return future.result()

    def close(self) -> None:
        """Stop the model thread after the calls already queued have run."""
        self._requests.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._requests.get()
            if first is _STOP:
                return
            batch = [first]
            size = len(first[0])
            deadline = time.monotonic() + self.max_wait_s
            stop = False
            while size < self.max_batch:
                try:
                    item = self._requests.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
                size += len(item[0])
            self._score(batch, size)
            if stop:
                return

    def _score(self, batch: list[tuple[list, Future]], size: int) -> None:
        faces = [face for call_faces, _ in batch for face in call_faces]
        try:
            probs = np.asarray(self.predictor.predict(faces, batch_size=self.max_batch))
        except BaseException as err:  # every waiting caller gets the error
            for _, future in batch:
                future.set_exception(err)
            return
        if self.on_batch is not None:
            self.on_batch(size)
        start = 0
        for call_faces, future in batch:
            future.set_result(probs[start : start + len(call_faces)])
            start += len(call_faces)
