"""The face scorer deployment: replicas that load the model once and score the faces of
concurrent requests (from every ingress replica) in shared batches, with Ray Serve's
``@serve.batch``; and :class:`RemoteScorer`, what an ingress replica's pipelines call."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from ray import serve

from dfdetect.serve.batching import PredictorFront
from dfdetect.serve.settings import ServeSettings


class FaceScorer:
    """One model replica; :meth:`score` calls are batched up to ``settings.batch_size``
    requests, waiting at most ``settings.batch_wait_s`` for more (like the in-process
    batcher)."""

    def __init__(self, settings: ServeSettings) -> None:
        from dfdetect.model.loading import load_predictor

        loaded = load_predictor(settings.model, runtime=settings.runtime, device=settings.device)
        self.predictor = loaded.predictor
        self.batch_size = settings.batch_size
        self.score.set_max_batch_size(settings.batch_size)
        self.score.set_batch_wait_timeout_s(settings.batch_wait_s)

    @serve.batch
    async def score(self, requests: list[list[Any]]) -> list[np.ndarray]:
        """P(fake) of each request's faces; the faces of all requests go in one model call."""
        faces = [face for request in requests for face in request]
        probs = await asyncio.to_thread(self.predictor.predict, faces, self.batch_size)
        bounds = np.cumsum([0] + [len(request) for request in requests])
        return [np.asarray(probs[a:b]) for a, b in itertools.pairwise(bounds)]


class RemoteScorer(PredictorFront):
    """Stands in for the in-process :class:`~dfdetect.serve.batching.DynamicBatcher`: the
    local ``predictor`` gives threshold and config (the same model), the scorer deployment
    behind ``handle`` scores the faces."""

    def __init__(self, handle: Any, predictor: Any) -> None:
        self.handle = handle
        self.predictor = predictor

    @contextmanager
    def joining(self) -> Iterator[None]:
        """Nothing to announce: Ray Serve batches what arrives within its wait."""
        yield

    def predict(self, faces: Sequence[Any], batch_size: int | None = None) -> np.ndarray:
        """P(fake) per face, scored by a scorer replica (blocks this thread)."""
        if len(faces) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.handle.score.remote(list(faces)).result()

    def close(self) -> None:
        """Nothing runs here to stop."""
