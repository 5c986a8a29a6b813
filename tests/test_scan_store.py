"""The SQLite results store, path expansion and JSONL/CSV export."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from dfdetect.scan.results import FaceResult, FileResult, PersonResult
from dfdetect.scan.store import ResultStore, file_sha256
from dfdetect.scan.walk import expand_inputs
from dfdetect.scan.writers import output_format, write_results


def _video_result(path: str) -> FileResult:
    faces = [
        FaceResult(0, 0.0, [10, 20, 110, 140], 0.99, 0.8, "fake", 0),
        FaceResult(5, 0.2, [12, 20, 112, 140], 0.98, 0.6, "fake", 0),
        FaceResult(5, 0.2, [300, 20, 400, 140], 0.97, 0.1, "real", 1),
    ]
    persons = [
        PersonResult(0, 0.7, "fake", 2, 0.8, 0.0, 0.2),
        PersonResult(1, 0.1, "real", 1, 0.1, 0.2, 0.2),
    ]
    return FileResult(path, "ok", "video", 0.7, "fake", 0.5, persons, faces)


def test_result_dict_round_trip():
    result = _video_result("/x/a.mp4")
    again = FileResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.to_dict() == result.to_dict()
    assert again.persons[0].prob == 0.7 and again.faces[2].person == 1


def test_store_put_get_skip_and_failed_files_are_retried(tmp_path):
    db = tmp_path / "scan.sqlite"
    with ResultStore(db) as store:
        store.put(_video_result("/x/a.mp4"), "aaa", "m@1", {"thumbnail": b"jpeg"})
        failed = FileResult("/x/b.mp4", "error", error={"reason": "corrupt", "detail": "bad"})
        store.put(failed, "bbb", "m@1")
        assert store.get("aaa", "m@1").prob == 0.7
        assert store.get("aaa", "m@2") is None  # another model or options: not reusable
        assert store.get("bbb", "m@1") is None  # failures are scanned again next time
        assert store.visuals("aaa", "m@1") == {"thumbnail": b"jpeg"}
    # committed and readable by another connection (WAL)
    rows = sqlite3.connect(db).execute("SELECT sha256, status FROM results ORDER BY sha256")
    assert rows.fetchall() == [("aaa", "ok"), ("bbb", "error")]
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_needs_visuals_when_asked(tmp_path):
    with ResultStore(tmp_path / "db.sqlite") as store:
        store.put(_video_result("/x/a.mp4"), "aaa", "m@1")
        assert store.get("aaa", "m@1") is not None
        assert store.get("aaa", "m@1", need_visuals=True) is None


def test_same_content_at_two_paths_is_reported_under_each(tmp_path):
    with ResultStore(tmp_path / "db.sqlite") as store:
        store.put(_video_result("/x/a.mp4"), "aaa", "m@1")
        store.link_path("/y/copy.mp4", "aaa", "m@1")
        got = [
            (r.path, sha) for r, sha in store.results_for(["/y/copy.mp4", "/x/a.mp4", "/z"], "m@1")
        ]
    assert got == [("/y/copy.mp4", "aaa"), ("/x/a.mp4", "aaa")]


def test_file_sha256(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    assert file_sha256(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_expand_inputs_folders_globs_missing_and_dedupe(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    for name in ("a/1.mp4", "a/b/2.jpg", "a/b/3.txt", "a/.hidden/4.png", "top.png"):
        (tmp_path / name).write_bytes(b"x")
    files, missing = expand_inputs(
        [
            tmp_path / "a",
            str(tmp_path / "**" / "*.png"),
            tmp_path / "a" / "1.mp4",
            tmp_path / "nope",
        ]
    )
    rel = [str(f.relative_to(tmp_path)) for f in files]
    assert rel == ["a/1.mp4", "a/b/2.jpg", "a/b/3.txt", "top.png"]
    assert missing == [str(tmp_path / "nope")]


def test_export_jsonl_and_csv(tmp_path):
    results = [
        _video_result("/x/a.mp4"),
        FileResult("/x/b.png", "no_face", "image", error={"reason": "no_face", "detail": ""}),
        FileResult("/x/c.mp4", "error", error={"reason": "truncated", "detail": "moov"}),
    ]
    assert write_results(results, tmp_path / "r.jsonl") == 3
    lines = [json.loads(s) for s in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [d["path"] for d in lines] == ["/x/a.mp4", "/x/b.png", "/x/c.mp4"]
    assert lines[0]["persons"][1]["label"] == "real" and lines[2]["error"]["reason"] == "truncated"

    write_results(results, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 + 1 + 1  # one row per face, one per faceless file
    assert [r["person"] for r in rows[:3]] == ["0", "0", "1"]
    assert rows[2]["prob"] == "0.1" and rows[2]["person_label"] == "real"
    assert rows[0]["file_label"] == "fake" and rows[0]["time_s"] == "0.0" and rows[0]["x2"] == "110"
    assert (rows[3]["status"], rows[3]["reason"]) == ("no_face", "no_face")
    assert (rows[4]["status"], rows[4]["reason"]) == ("error", "truncated")
    with pytest.raises(ValueError, match="unknown export format"):
        output_format(tmp_path / "r.xlsx")


def test_one_format_registry_serves_both_engines() -> None:
    assert [output_format(f"r{s}") for s in (".jsonl", ".NDJSON", ".csv")] == [
        "jsonl",
        "jsonl",
        "csv",
    ]
    assert output_format("r.parquet", "ray") == "parquet" and output_format("r.csv", "ray") == "csv"
    with pytest.raises(ValueError, match=r"unknown export format '\.parquet'"):
        output_format("r.parquet")  # the local engine writes no Parquet parts


def test_results_stored_by_an_earlier_version_still_open_and_are_rescanned(tmp_path, monkeypatch):
    from dfdetect.scan.options import ScanOptions
    from dfdetect.scan.session import model_key

    old = {  # a row as dfdetect wrote it before faces_skipped existed
        "path": "/p.png", "status": "ok", "kind": "image", "prob": 0.2, "label": "real",
        "frames": [{"index": 0, "time_s": None, "n_faces": 1, "prob": 0.2}],
    }  # fmt: skip
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:  # the store's schema is unchanged: an old file opens
        con.executescript(
            "CREATE TABLE results (sha256 TEXT NOT NULL, model_key TEXT NOT NULL, status TEXT "
            "NOT NULL, result TEXT NOT NULL, finished_at REAL NOT NULL, PRIMARY KEY (sha256, "
            "model_key));"
        )
        con.execute("INSERT INTO results VALUES ('s', 'k', 'ok', ?, 0)", (json.dumps(old),))
    with ResultStore(db) as store:
        loaded = store.get("s", "k")
    assert loaded.faces_skipped == 0 and loaded.frames[0].faces_skipped == 0
    key = model_key("m", "w", ScanOptions())
    monkeypatch.setattr("dfdetect.scan.session.RESULT_VERSION", 1)  # before faces_skipped
    assert model_key("m", "w", ScanOptions()) != key
