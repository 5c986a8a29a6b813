"""The SQLite job store and its workers: queue bound, persistence, restart recovery."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from dfdetect.errors import Cancelled, MediaError
from dfdetect.serve.jobs import MAX_ATTEMPTS, JobStore, JobWorkers, QueueFull


def _upload(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_bytes(b"media bytes")
    return path


def test_jobs_move_through_their_states_and_persist(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    first = store.submit("a.mp4", _upload(tmp_path, "u1"), 11, True, max_queue=5)
    second = store.submit("b.mp4", _upload(tmp_path, "u2"), 11, False, max_queue=5)
    assert (first.status, first.filename, first.heatmaps) == ("queued", "a.mp4", 1)
    assert store.queued_count() == 2
    claimed = store.claim()
    assert claimed.id == first.id  # oldest first
    assert (claimed.status, claimed.attempts) == ("running", 1)
    store.finish(first.id, {"prob": 0.25})
    store.fail(second.id, "corrupt", "b.mp4: corrupt")
    store.close()

    reopened = JobStore(db)
    done, failed = reopened.get(first.id), reopened.get(second.id)
    assert (done.status, done.result) == ("done", '{"prob": 0.25}')
    assert failed.to_dict()["error"] == {"code": "corrupt", "message": "b.mp4: corrupt"}
    assert "media_path" not in done.to_dict()
    assert reopened.claim() is None


def test_queue_bound_counts_waiting_jobs_only(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.submit("a", _upload(tmp_path, "a"), 1, True, max_queue=2)
    store.submit("b", _upload(tmp_path, "b"), 1, True, max_queue=2)
    with pytest.raises(QueueFull, match="2 waiting"):
        store.submit("c", _upload(tmp_path, "c"), 1, True, max_queue=2)
    store.claim()  # one leaves the queue: room for another
    assert store.submit("c", _upload(tmp_path, "c"), 1, True, max_queue=2).status == "queued"


def test_delete_removes_row_and_upload(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    media = _upload(tmp_path, "u")
    job = store.submit("a", media, 1, True, max_queue=2)
    assert store.delete(job.id).id == job.id
    assert not media.exists()
    assert store.get(job.id) is None
    assert store.delete(job.id) is None


def test_recover_requeues_interrupted_jobs_and_gives_up_after_max_attempts(tmp_path):
    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    job = store.submit("a", _upload(tmp_path, "u"), 1, True, max_queue=2)
    waiting = store.submit("b", _upload(tmp_path, "v"), 1, True, max_queue=2)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert store.claim().id == job.id  # "crash" while running
        store.close()
        store = JobStore(db)
        requeued, failed = store.recover()
        if attempt < MAX_ATTEMPTS:
            assert (requeued, failed) == (1, 0)
            assert store.get(job.id).status == "queued"
    assert (requeued, failed) == (0, 1)
    assert store.get(job.id).status == "failed"
    assert store.get(job.id).error_code == "interrupted"
    assert store.get(waiting.id).status == "queued"  # never touched


def test_workers_run_jobs_record_failures_and_remove_uploads(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    good = store.submit("good.mp4", _upload(tmp_path, "g"), 1, True, max_queue=9)
    bad = store.submit("bad.mp4", _upload(tmp_path, "b"), 1, False, max_queue=9)
    buggy = store.submit("buggy.mp4", _upload(tmp_path, "x"), 1, True, max_queue=9)

    def analyze(job, _cancel):
        if job.filename == "bad.mp4":
            raise MediaError(job.filename, "corrupt", "moov atom not found")
        if job.filename == "buggy.mp4":
            raise ZeroDivisionError("oops")
        return {"name": job.filename, "heatmaps": bool(job.heatmaps)}

    workers = JobWorkers(store, analyze, n_workers=2, poll_s=0.05)
    workers.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and store.queued_count() + _running(store) > 0:
        time.sleep(0.02)
    workers.stop()
    assert store.get(good.id).result == '{"name": "good.mp4", "heatmaps": true}'
    assert store.get(bad.id).error_code == "corrupt"
    assert "moov atom" in store.get(bad.id).error
    assert store.get(buggy.id).error_code == "internal"
    assert "ZeroDivisionError" in store.get(buggy.id).error
    assert not any((tmp_path / n).exists() for n in ("g", "b", "x"))


def _running(store: JobStore) -> int:
    return len(store.pending_media()) - store.queued_count()


def test_a_job_cut_off_by_shutdown_is_requeued_not_failed(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    media = _upload(tmp_path, "u")
    job = store.submit("long.mp4", media, 1, True, max_queue=2)
    started, release = threading.Event(), threading.Event()

    def analyze(_job, _cancel):
        started.set()
        release.wait(10)
        raise RuntimeError("the batcher is closed")  # what a model shut down under it raises

    workers = JobWorkers(store, analyze, n_workers=1, poll_s=0.05)
    workers.start()
    assert started.wait(10)
    assert workers.stop(timeout_s=0.1) is False  # still busy
    release.set()
    assert workers.stop(timeout_s=10) is True
    assert store.get(job.id).status == "running" and media.exists()
    assert store.recover() == (1, 0)
    assert store.get(job.id).status == "queued"


def test_an_expired_lease_is_claimed_again_and_only_its_holder_finishes(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.submit("a.mp4", _upload(tmp_path, "u1"), 11, False, max_queue=5)
    first = store.claim("worker-a", lease_s=-1.0)  # a lease already run out: worker-a died
    assert (first.id, first.owner) == (job.id, "worker-a")
    second = store.claim("worker-b", lease_s=60.0)
    assert (second.id, second.owner, second.attempts) == (job.id, "worker-b", 2)
    assert not store.renew(job.id, "worker-a", 60.0)  # worker-a must stop
    assert store.renew(job.id, "worker-b", 60.0)
    assert not store.finish(job.id, {"prob": 0.9}, "worker-a")  # a late duplicate: ignored
    assert store.finish(job.id, {"prob": 0.25}, "worker-b")
    assert not store.finish(job.id, {"prob": 0.5}, "worker-b")  # written once
    assert store.get(job.id).result == '{"prob": 0.25}'


def test_a_job_deleted_through_another_service_is_cancelled_at_the_next_heartbeat(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite3")
    job = store.submit("a.mp4", _upload(tmp_path, "u1"), 11, False, max_queue=5)
    seen: list[bool] = []

    def analyze(_job, cancel: threading.Event) -> dict:
        store.delete(_job.id)  # as another replica does on DELETE /v1/jobs/{id}
        seen.append(cancel.wait(10))
        raise Cancelled(_job.id)

    workers = JobWorkers(store, analyze, 1, poll_s=0.05, lease_s=0.3)
    workers.start()
    try:
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        assert workers.stop()
    assert seen == [True]
    assert store.get(job.id) is None
