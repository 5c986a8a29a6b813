"""Dynamic batching: faces from concurrent requests share one model call.

:class:`DynamicBatcher` stands in for a :class:`~dfdetect.Detector` wherever only
``predict(faces)`` and ``threshold``/``config`` are used (the scan pipeline), so every request
thread calls ``predict`` as usual while one model thread merges what arrives into a single
batch. Requests announce themselves (:meth:`DynamicBatcher.joining`) while they decode and
detect faces, so a batch waits for the faces that are on their way instead of leaving with
whatever came within a fixed few milliseconds.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np


class Predictor(Protocol):
    """What the batcher wraps: a Detector, or anything scoring faces the same way."""

    threshold: float
    config: Any

    def predict(self, faces: Sequence[Any], batch_size: int = ...) -> np.ndarray: ...


_STOP = object()


class PredictorFront:
    """Base of what stands in for a predictor: ``threshold`` and ``config`` are the wrapped
    ``predictor``'s; subclasses score faces their own way."""

    predictor: Predictor

    @property
    def threshold(self) -> float:
        """The wrapped predictor's decision threshold."""
        return self.predictor.threshold

    @property
    def config(self) -> Any:
        """The wrapped predictor's config (preprocessing, face crop, threshold)."""
        return self.predictor.config


class DynamicBatcher(PredictorFront):
    """Merges concurrent ``predict`` calls into model calls of at most ``max_batch`` faces.

    A batch waits at most ``max_wait_s`` for calls nobody announced, and, while requests that
    announced themselves with :meth:`joining` are still on their way (decoding, detecting
    faces), at most ``max_join_wait_s`` for them; it leaves as soon as every announced request
    has joined or left. A call larger than ``max_batch`` runs alone (the predictor splits it).
    ``on_batch(n)`` is told each batch size.
    """

    def __init__(
        self,
        predictor: Predictor,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int], None] | None = None,
        max_join_wait_s: float = 0.25,
    ) -> None:
        if max_batch < 1 or max_wait_s < 0 or max_join_wait_s < 0:
            raise ValueError(
                "need max_batch >= 1, max_wait_s >= 0, max_join_wait_s >= 0; got "
                f"{max_batch}, {max_wait_s}, {max_join_wait_s}"
            )
        self.predictor = predictor
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_join_wait_s = max_join_wait_s
        self.on_batch = on_batch
        self._pending: deque = deque()
        self._announced = 0  # requests inside joining() that have not called predict yet
        self._changed = threading.Condition()
        self._local = threading.local()
        self._thread = threading.Thread(target=self._run, name="dfdetect-batcher", daemon=True)
        self._thread.start()

    @contextmanager
    def joining(self) -> Iterator[None]:
        """Announce that this thread will call ``predict`` soon (batches wait for it); the
        announcement ends at its first ``predict`` call or when the block exits."""
        with self._changed:
            self._announced += 1
        self._local.announced = True
        try:
            yield
        finally:
            with self._changed:
                self._withdraw()

    def _withdraw(self) -> None:
        """End this thread's announcement, if any (holding ``_changed``)."""
        if getattr(self._local, "announced", False):
            self._local.announced = False
            self._announced -= 1
            self._changed.notify_all()

    def predict(self, faces: Sequence[Any], batch_size: int | None = None) -> np.ndarray:
        """P(fake) per face, like ``Detector.predict``; blocks until this call's batch ran."""
        del batch_size  # batches are formed here, across callers
        if len(faces) == 0:
            with self._changed:
                self._withdraw()
            return np.zeros(0, dtype=np.float32)
        if not self._thread.is_alive():
            raise RuntimeError("the batcher is closed")
        future: Future = Future()
        with self._changed:
            self._pending.append((list(faces), future))
            self._withdraw()
            self._changed.notify_all()
        return future.result()

    def close(self) -> None:
        """Stop the model thread after the calls already queued have run."""
        with self._changed:
            self._pending.append(_STOP)
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            batch, size, stop = self._gather()
            if batch:
                self._score(batch, size)
            if stop:
                return

    def _gather(self) -> tuple[list[tuple[list, Future]], int, bool]:
        """The next batch, its number of faces and whether the batcher was closed."""
        with self._changed:
            while not self._pending:
                self._changed.wait()
            start = time.monotonic()
            batch: list[tuple[list, Future]] = []
            size = 0
            while size < self.max_batch:
                if self._pending:
                    item = self._pending.popleft()
                    if item is _STOP:
                        return batch, size, True
                    batch.append(item)
                    size += len(item[0])
                    continue
                bound = self.max_join_wait_s if self._announced else self.max_wait_s
                left = start + bound - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return batch, size, False

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
