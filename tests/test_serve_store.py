"""A ``--data-dir`` URL for ``serve --engine ray`` (serve/cluster/store.py), on fsspec's local
filesystem (``file://``): the job database restored and saved, uploads staged and fetched."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fsspec")

from dfdetect.serve.cluster.store import RemoteData, missing_package, staging_dir
from dfdetect.serve.jobs import JobStore


@pytest.fixture
def data(tmp_path) -> RemoteData:
    return RemoteData((tmp_path / "bucket").as_uri() + "/prefix")


def test_a_database_saved_to_the_url_is_restored_on_another_disk(data, tmp_path):
    assert not data.restore(tmp_path / "none" / "jobs.sqlite3")  # nothing saved yet
    store = JobStore(tmp_path / "node1" / "jobs.sqlite3")
    job = store.submit("clip.mp4", Path("x"), 3, False, max_queue=5)
    assert store.changes() == 1
    snapshot = tmp_path / "snapshot"
    store.backup(snapshot)  # the committed rows, WAL included
    data.persist(snapshot)
    store.close()
    restored = tmp_path / "node2" / "jobs.sqlite3"
    assert data.restore(restored)
    again = JobStore(restored)
    assert again.get(job.id) == job
    assert (tmp_path / "bucket" / "prefix" / "jobs.sqlite3").is_file()


def test_an_upload_is_staged_fetched_and_removed(data, tmp_path):
    upload = tmp_path / "staging" / "uploads" / "abc123"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"video bytes")
    media = data.stage(upload)
    assert media == data.url + "/uploads/abc123"
    assert not upload.exists()  # the local copy went
    assert (tmp_path / "bucket" / "prefix" / "uploads" / "abc123").read_bytes() == b"video bytes"
    with data.fetch(media, tmp_path / "worker") as local:
        assert local.read_bytes() == b"video bytes"
    assert not local.exists()  # the worker's copy is removed after the job
    data.remove(media)
    data.remove(media)  # gone already: nothing happens
    assert not (tmp_path / "bucket" / "prefix" / "uploads" / "abc123").exists()
    with pytest.raises(ValueError, match="not an upload"):
        data.remove("file:///etc/passwd")


def test_a_store_removes_deleted_and_expired_uploads_through_its_hook(tmp_path):
    removed: list[str] = []
    store = JobStore(tmp_path / "jobs.sqlite3", remove_media=removed.append)
    job = store.submit("a.mp4", "s3://b/uploads/a", 1, False, max_queue=5)
    store.delete(job.id)
    assert removed == ["s3://b/uploads/a"]


def test_a_url_whose_filesystem_is_not_installed_is_named():
    assert missing_package("file:///tmp/x") is None
    assert "no fsspec filesystem" in missing_package("nosuchproto://x")
    assert staging_dir("s3://a/b") == staging_dir("s3://a/b") != staging_dir("s3://a/c")
