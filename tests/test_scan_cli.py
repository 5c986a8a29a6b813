"""``dfdetect scan`` as users run it: a real subprocess killed with SIGKILL and resumed, a real
SQLite file, exports, reports and exit codes (the other runs in-process, for speed)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dfdetect.cli import scan as scan_cli
from dfdetect.media.synthetic import face_image, face_video
from test_scan_media import load_crop

SCAN = [sys.executable, "-m", "dfdetect", "scan"]
N_VIDEOS = 8


def run_scan(argv: list, capsys) -> tuple[int, str, str]:
    """``dfdetect scan ARGV`` in this process: (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser()
    scan_cli.add_arguments(parser)
    code = scan_cli.run(parser.parse_args([str(a) for a in argv]))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sample_faces) -> Path:
    """Distinct short videos and 2 images, one face each, plus one non-media file."""
    root = tmp_path_factory.mktemp("media")
    crops = [load_crop(p) for p in sample_faces["real"][:2] + sample_faces["fake"][:2]]
    for k in range(N_VIDEOS):
        sub = root / ("a" if k % 2 else "b")
        sub.mkdir(exist_ok=True)
        face_video(sub / f"clip{k:02d}.mp4", [crops[k % 4]], n_frames=4, seed=k)
    face_image(root / "photo.png", crops[0])
    face_image(root / "b" / "photo.jpg", crops[3])
    (root / "readme.txt").write_text("not media\n")
    return root


def _files(folder: Path) -> set[str]:
    return {str(p.resolve()) for p in folder.rglob("*") if p.is_file()}


def _rows(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT sha256, status, result, finished_at FROM results").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_sigkill_then_resume_loses_and_duplicates_nothing(folder, tmp_path, capsys):
    db, out = tmp_path / "scan.sqlite", tmp_path / "results.jsonl"
    args = [folder, "--model", "tiny-random", "--db", db, "--frames", "4", "--workers", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [*SCAN, *map(str, args)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        done = 0
        while done < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            with contextlib.suppress(sqlite3.OperationalError):  # not created yet
                done = sum(1 for row in _rows(db).values() if row[0] == "ok")
        assert proc.poll() is None, f"the scan ended before it was killed: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    before = _rows(db)
    ok_before = {sha: row for sha, row in before.items() if row[0] == "ok"}
    total = N_VIDEOS + 2
    assert 2 <= len(ok_before) < total  # killed part-way, with results already committed

    code, _, err = run_scan([*args, "--out", out], capsys)
    assert code == 1  # readme.txt is not media
    assert f"{len(ok_before)} from earlier scans" in err
    after = _rows(db)
    for sha, row in ok_before.items():
        assert after[sha] == row  # kept as committed, not recomputed
    assert sum(1 for row in after.values() if row[0] == "ok") == total
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert sorted(d["path"] for d in lines) == sorted(_files(folder))  # each file exactly once
    by_sha = {d["sha256"]: d for d in lines}
    for sha, row in ok_before.items():
        assert by_sha[sha]["prob"] == json.loads(row[1])["prob"]
    with sqlite3.connect(db) as con:
        paths = [r[0] for r in con.execute("SELECT path FROM paths")]
    assert sorted(paths) == sorted(_files(folder))


def test_exit_codes_csv_and_summary(folder, tmp_path, capsys):
    out, db = tmp_path / "faces.csv", tmp_path / "db.sqlite"
    args = [folder / "a", folder / "photo.png", "--model", "tiny-random", "--db", db]
    code, stdout, err = run_scan([*args, "--frames", "2", "--out", out], capsys)
    n_a = N_VIDEOS // 2
    assert code == 0, err
    assert f"{n_a + 1} files: " in err and "0 failed" in err
    assert "clip01.mp4" in stdout and "photo.png" in stdout  # the table
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_a * 2 + 1  # one face in each of 2 frames per video, 1 in the photo
    assert {r["status"] for r in rows} == {"ok"}
    probs = np.array([float(r["prob"]) for r in rows])
    assert ((probs >= 0) & (probs <= 1)).all()
    thresholds = np.array([float(r["threshold"]) for r in rows])
    assert [r["label"] for r in rows] == ["fake" if p else "real" for p in probs >= thresholds]

    bad = [folder / "readme.txt", tmp_path / "missing.mp4", "--model", "tiny-random", "--db", db]
    code, _, err = run_scan(bad, capsys)
    assert code == 1
    assert "not found: " in err and "not_found: 1, not_media: 1" in err

    (tmp_path / "empty.txt").write_text("# nothing listed\n")
    code, _, err = run_scan([f"@{tmp_path / 'empty.txt'}", "--model", "tiny-random"], capsys)
    assert code == 2
    assert err == "dfdetect scan: error: no input files (the @LIST files are empty)\n"
    code, _, err = run_scan([folder, "--out", tmp_path / "r.xlsx"], capsys)
    assert code == 2 and "unknown export format" in err


def test_default_model_offline_says_how_to_get_it(folder, tmp_path, capsys, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    code, _, err = run_scan([folder / "photo.png", "--db", tmp_path / "db.sqlite"], capsys)
    assert code == 3
    assert "yermandy/GenD_CLIP_L_14" in err and "HF_HUB_OFFLINE" in err
    assert "Traceback" not in err


def test_report_and_heatmap_pngs(folder, tmp_path, capsys):
    report, heat, db = tmp_path / "report.html", tmp_path / "heat", tmp_path / "db.sqlite"
    args = [folder / "a" / "clip01.mp4", folder / "photo.png", "--model", "tiny-random"]
    args += ["--frames", "2", "--db", db, "--quiet"]
    code, _, err = run_scan([*args, "--report", report, "--heatmaps", heat], capsys)
    assert code == 0, err
    html = report.read_text()
    assert html.count('src="data:image/') == 2 * 3  # thumbnail, heatmap, crop per file
    pngs = sorted(p.name for p in heat.rglob("*.png"))
    assert pngs == ["person0_crop.png", "person0_crop.png", "person0_heatmap.png"] * 1 + [
        "person0_heatmap.png"
    ]
    # a second run reuses the stored results and images: the same report
    code, _, err = run_scan([*args, "--report", tmp_path / "again.html"], capsys)
    assert "2 from earlier scans" in err
    assert (tmp_path / "again.html").read_text().count('src="data:image/') == 6


def test_same_content_twice_is_scanned_once_and_reported_twice(folder, tmp_path, capsys):
    copy = tmp_path / "copy-of-photo.png"
    copy.write_bytes((folder / "photo.png").read_bytes())
    db, out = tmp_path / "db.sqlite", tmp_path / "r.jsonl"
    args = [folder / "photo.png", copy, "--model", "tiny-random", "--db", db, "--out", out]
    code, _, err = run_scan([*args, "--quiet"], capsys)
    assert code == 0, err
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert [d["path"] for d in lines] == [str((folder / "photo.png").resolve()), str(copy)]
    assert lines[0]["sha256"] == lines[1]["sha256"] and lines[0]["prob"] == lines[1]["prob"]
    assert len(_rows(db)) == 1


def test_inputs_that_name_no_file_are_results_everywhere(folder, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{folder / 'photo.png'}\n{tmp_path / 'gone.png'}\n")
    named = [tmp_path / "missing.jpg", f"{tmp_path}/nomatch/*.png", f"@{listing}"]
    named += [f"@{tmp_path / 'nolist.txt'}"]
    out, csv_out, summary = tmp_path / "r.jsonl", tmp_path / "r.csv", tmp_path / "s.json"
    args = [*named, "--model", "tiny-random", "--db", tmp_path / "db.sqlite"]
    code, stdout, err = run_scan([*args, "--out", out, "--summary", summary], capsys)
    assert code == 1, err
    lost = {
        str(tmp_path / "missing.jpg"): "no such file or folder",
        f"{tmp_path}/nomatch/*.png": "no file matches the pattern",
        str(tmp_path / "gone.png"): "no such file or folder",
        f"@{tmp_path / 'nolist.txt'}": "the file list cannot be read",
    }
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert {d["path"]: d["error"]["detail"] for d in lines if d["status"] == "error"} == lost
    assert {d["error"]["reason"] for d in lines if d["status"] == "error"} == {"not_found"}
    assert all(d["model"] == "tiny-random" and d["model_key"] for d in lines)
    assert [d["status"] for d in lines].count("ok") == 1  # photo.png, from the list
    data = json.loads(summary.read_text())
    assert (data["files"], data["failed"], data["exit_code"]) == (5, 4, 1)
    assert data["failed_by_reason"] == {"not_found": 4}
    assert stdout.count("not_found") == 4 and "missing.jpg" in stdout  # the table
    assert "4 failed (not_found: 4)" in err

    code, _, _ = run_scan([*args, "--out", csv_out, "--quiet"], capsys)
    with open(csv_out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert code == 1 and sorted(r["path"] for r in rows if r["reason"] == "not_found") == sorted(
        lost
    )
    code, _, err = run_scan([tmp_path / "missing.jpg", "--model", "tiny-random"], capsys)
    assert code == 1 and "1 files: 0 fake, 0 real, 0 without faces, 1 failed" in err


def test_file_names_cannot_drive_the_terminal(folder, tmp_path, capsys):
    evil = tmp_path / "a\x1b]0;owned\x07\x1b[2Jb.png"
    evil.write_bytes((folder / "photo.png").read_bytes())
    args = [evil, tmp_path / "gone\x1b[31m.jpg", "--model", "tiny-random"]
    code, stdout, err = run_scan([*args, "--db", tmp_path / "db.sqlite"], capsys)
    assert code == 1
    assert "\x1b" not in stdout and "\x07" not in stdout and "\x1b" not in err
    table = "".join(stdout.split()).replace("│", "")  # the file column folds long names
    assert "a\\x1b]0;owned\\x07\\x1b[2Jb.png" in table
    assert "gone\\x1b[31m.jpg" in err


def test_a_long_file_name_gets_a_bounded_heatmap_folder(folder, tmp_path, capsys):
    long = tmp_path / ("x" * 250 + ".png")
    long.write_bytes((folder / "photo.png").read_bytes())
    heat = tmp_path / "heat"
    args = [long, folder / "photo.png", "--model", "tiny-random", "--quiet"]
    code, _, err = run_scan([*args, "--db", tmp_path / "db.sqlite", "--heatmaps", heat], capsys)
    assert code == 0, err
    folders = sorted(p.name for p in heat.iterdir())
    assert len(folders) == 2 and all(len(f.encode()) <= 120 for f in folders)
    assert folders[1].startswith("x" * 100 + "-")
    assert all(sorted(p.name for p in (heat / f).iterdir()) for f in folders)
