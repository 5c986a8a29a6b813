"""Dynamic batching: concurrent predict calls share model calls and get their own results."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from dfdetect.serve.batching import DynamicBatcher


class MeanPredictor:
    """Scores a face by its mean pixel value / 255 and records every call's size."""

    threshold = 0.42
    config = object()

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[int] = []
        self.fail = fail

    def predict(self, faces, batch_size=32):
        self.calls.append(len(faces))
        if self.fail:
            raise RuntimeError("model exploded")
        return np.array([float(np.mean(f)) / 255 for f in faces], np.float32)


def _faces(value: int, n: int) -> list[np.ndarray]:
    return [np.full((4, 4, 3), value, np.uint8) for _ in range(n)]


def test_concurrent_calls_share_batches_and_get_their_own_scores():
    predictor = MeanPredictor()
    batcher = DynamicBatcher(predictor, max_batch=64, max_wait_s=0.2)
    n_threads = 6
    barrier = threading.Barrier(n_threads)
    got: dict[int, np.ndarray] = {}

    def client(k: int) -> None:
        barrier.wait()
        got[k] = batcher.predict(_faces(10 * (k + 1), k + 1))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close()
    for k in range(n_threads):
        np.testing.assert_allclose(got[k], np.full(k + 1, 10 * (k + 1) / 255), rtol=1e-6)
    assert sum(predictor.calls) == sum(range(1, n_threads + 1))
    assert len(predictor.calls) < n_threads  # merged: fewer model calls than callers


def test_batches_stop_growing_at_max_batch():
    predictor = MeanPredictor()
    batcher = DynamicBatcher(predictor, max_batch=4, max_wait_s=0.2)
    barrier = threading.Barrier(8)
    threads = [
        threading.Thread(target=lambda: (barrier.wait(), batcher.predict(_faces(1, 1))))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close()
    assert sum(predictor.calls) == 8
    assert max(predictor.calls) <= 4
    assert len(predictor.calls) >= 2


def test_errors_reach_every_caller_and_the_batcher_keeps_working():
    predictor = MeanPredictor(fail=True)
    batcher = DynamicBatcher(predictor, max_batch=8, max_wait_s=0.0)
    with pytest.raises(RuntimeError, match="model exploded"):
        batcher.predict(_faces(5, 2))
    predictor.fail = False
    np.testing.assert_allclose(batcher.predict(_faces(51, 1)), [0.2])
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.predict(_faces(1, 1))


def test_stands_in_for_a_detector():
    predictor = MeanPredictor()
    batcher = DynamicBatcher(predictor, max_wait_s=0.0)
    assert batcher.threshold == 0.42
    assert batcher.config is predictor.config
    assert batcher.predict([]).shape == (0,)
    assert predictor.calls == []  # empty calls never reach the model
    batcher.close()
    with pytest.raises(ValueError, match="max_batch"):
        DynamicBatcher(predictor, max_batch=0)


def test_batches_wait_for_announced_requests_and_no_longer():
    predictor = MeanPredictor()
    # unannounced callers get no wait at all; announced ones up to 10 s
    batcher = DynamicBatcher(predictor, max_batch=64, max_wait_s=0.0, max_join_wait_s=10.0)
    n_threads = 5
    ready = threading.Barrier(n_threads + 1)
    go = [threading.Event() for _ in range(n_threads)]
    got: dict[int, np.ndarray] = {}

    def request(k: int) -> None:
        with batcher.joining():
            ready.wait()
            go[k].wait()  # "detecting faces" until told to go on
            got[k] = batcher.predict(_faces(k + 1, 2))

    threads = [threading.Thread(target=request, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    ready.wait()
    for event in go:  # one after the other, each after the previous one is queued
        event.set()
        threading.Event().wait(0.05)
    for t in threads:
        t.join(20)
    assert predictor.calls == [2 * n_threads]  # one model call for all five requests
    for k in range(n_threads):
        np.testing.assert_allclose(got[k], np.full(2, (k + 1) / 255), rtol=1e-6)

    # a request that leaves without faces (or with an error) does not hold the batch up
    predictor.calls.clear()
    leaving = threading.Event()

    def faceless() -> None:
        with batcher.joining():
            leaving.wait()
            batcher.predict([])

    def erroring() -> None:
        with batcher.joining(), pytest.raises(ValueError):
            leaving.wait()
            raise ValueError("unreadable upload")

    others = [threading.Thread(target=f) for f in (faceless, erroring)]
    for t in others:
        t.start()
    result: list[np.ndarray] = []
    caller = threading.Thread(target=lambda: result.append(batcher.predict(_faces(3, 1))))
    caller.start()
    threading.Event().wait(0.1)
    assert result == []  # waiting for the two announced requests
    leaving.set()
    caller.join(5)
    for t in others:
        t.join(5)
    batcher.close()
    assert not caller.is_alive() and predictor.calls == [1]
