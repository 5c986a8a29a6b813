"""``dfdetect scan`` against hostile inputs and faults, as real subprocesses: FIFOs, symlink
loops, symlinked files, a model that outputs NaN, unwritable outputs, a missing device, a full
disk and SIGKILL mid-scan. Every run has a deadline, so a hang fails instead of blocking."""

from __future__ import annotations

import csv
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfdetect.media.synthetic import background, face_image
from test_scan_media import load_crop

SCAN = [sys.executable, "-m", "dfdetect", "scan", "--model", "tiny-random", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
DEADLINE_S = 240  # far above a normal run: reaching it means the scan hung


def scan(*args, preexec_fn=None) -> subprocess.CompletedProcess:
    """Run ``dfdetect scan ARGS`` and wait for it (TimeoutExpired when it hangs)."""
    return subprocess.run(
        [*SCAN, *map(str, args)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        preexec_fn=preexec_fn,
    )


def strict_lines(path: Path) -> list[dict]:
    """JSON Lines parsed strictly: a NaN or Infinity token fails the test."""

    def refuse(token: str):
        raise AssertionError(f"non-standard JSON token {token} in {path}")

    return [json.loads(s, parse_constant=refuse) for s in path.read_text().splitlines()]


def picture(path: Path, seed: int = 0) -> Path:
    """A face-less PNG (scanned fine: status no_face)."""
    Image.fromarray(background(120, 160, seed)).save(path)
    return path


def test_fifo_socket_in_a_folder_and_on_the_command_line_are_reported_not_read(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    picture(folder / "a.png")
    os.mkfifo(folder / "pipe.mp4")
    lone = tmp_path / "lone.fifo"
    os.mkfifo(lone)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(folder / "s.sock"))
        out = tmp_path / "r.jsonl"
        done = scan(folder, lone, "--db", tmp_path / "db.sqlite", "--out", out)
    assert done.returncode == 1, done.stderr
    by_name = {Path(d["path"]).name: d for d in strict_lines(out)}
    assert by_name["a.png"]["status"] == "no_face"
    for name, what in (("pipe.mp4", "FIFO"), ("lone.fifo", "FIFO"), ("s.sock", "socket")):
        assert by_name[name]["error"]["reason"] == "not_regular", name
        assert what in by_name[name]["error"]["detail"]
    assert "not_regular: 3" in done.stderr


def test_symlink_loops_are_reported_once_and_the_rest_is_scanned(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    picture(folder / "sub" / "a.png")
    os.symlink("b.png", folder / "a.png")  # a.png -> b.png -> a.png
    os.symlink("a.png", folder / "b.png")
    os.symlink("self", folder / "self")
    os.symlink("..", folder / "sub" / "up")  # a folder loop: never followed
    out = tmp_path / "r.jsonl"
    done = scan(folder, "--db", tmp_path / "db.sqlite", "--out", out)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = strict_lines(out)
    reasons = sorted((Path(d["path"]).name, (d["error"] or {}).get("reason")) for d in lines)
    assert reasons == [
        ("a.png", "no_face"),
        ("a.png", "symlink_loop"),
        ("b.png", "symlink_loop"),
        ("self", "symlink_loop"),
    ]


def test_a_symlinked_file_keeps_its_name_and_names_its_target(tmp_path):
    real = picture(tmp_path / "real.png")
    link = tmp_path / "named.png"
    os.symlink(real, link)
    out = tmp_path / "r.jsonl"
    done = scan(link, "--db", tmp_path / "db.sqlite", "--out", out)
    assert done.returncode == 0, done.stderr
    (line,) = strict_lines(out)
    assert line["path"] == str(link) and line["target"] == str(real)
    again = scan(link, "--db", tmp_path / "db.sqlite", "--out", out)  # from the database
    assert "1 from earlier scans" in again.stderr
    (line,) = strict_lines(out)
    assert line["path"] == str(link) and line["target"] == str(real)


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory) -> Path:
    """A tiny-random checkpoint whose head outputs NaN."""
    from dfdetect import Detector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_pretrained("tiny-random", device="cpu")
    with torch.no_grad():
        det.head.bias.fill_(float("nan"))
    return det.save_pretrained(tmp_path_factory.mktemp("nan") / "ckpt")


def test_a_model_that_outputs_nan_gives_errors_not_verdicts(nan_model, tmp_path, sample_faces):
    photo = face_image(tmp_path / "face.png", load_crop(sample_faces["real"][0]))
    out, summary = tmp_path / "r.jsonl", tmp_path / "summary.json"
    args = [photo, "--model", nan_model, "--db", tmp_path / "db.sqlite"]
    done = scan(*args, "--out", out, "--summary", summary)
    assert done.returncode == 1, done.stderr
    (line,) = strict_lines(out)
    assert line["status"] == "error" and line["error"]["reason"] == "non_finite"
    assert line["label"] is None and line["prob"] is None
    counts = json.loads(summary.read_text())
    assert counts["failed"] == 1 and counts["failed_by_reason"] == {"non_finite": 1}
    assert counts["exit_code"] == 1
    csv_out = tmp_path / "r.csv"
    assert scan(*args, "--out", csv_out).returncode == 1
    (row,) = list(csv.DictReader(csv_out.open(newline="")))
    assert row["reason"] == "non_finite" and row["prob"] == row["file_prob"] == ""


@pytest.mark.parametrize(
    ("flag", "where"),
    [("--report", "file/report.html"), ("--out", "file/r.jsonl"), ("--summary", "file/s.json")],
)
def test_unwritable_outputs_fail_before_the_first_file(tmp_path, flag, where):
    picture(tmp_path / "a.png")
    (tmp_path / "file").write_text("a file, not a folder")
    db = tmp_path / "db.sqlite"
    done = scan(tmp_path / "a.png", "--db", db, flag, tmp_path / where)
    assert done.returncode == 4, done.stderr
    assert "Traceback" not in done.stderr and "error:" in done.stderr
    assert "file" in done.stderr and not db.exists()  # nothing was scanned


def test_an_unusable_database_or_device_fails_before_the_first_file(tmp_path):
    picture(tmp_path / "a.png")
    (tmp_path / "file").write_text("x")
    done = scan(tmp_path / "a.png", "--db", tmp_path / "file" / "db.sqlite")
    assert done.returncode == 4 and "Traceback" not in done.stderr, done.stderr
    if not torch.cuda.is_available():
        done = scan(tmp_path / "a.png", "--db", tmp_path / "db.sqlite", "--device", "cuda")
        assert done.returncode == 4, done.stderr
        assert "CUDA is not available" in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "db.sqlite").exists()
    done = scan(tmp_path / "a.png", "--db", tmp_path / "db.sqlite", "--device", "warp9")
    assert done.returncode == 4 and "warp9" in done.stderr


def _small_disk(tmp_path: Path) -> tuple[Path, object]:
    """A folder on a 64 KiB tmpfs when this process may mount one; else a plain folder and a
    preexec_fn limiting file sizes to 64 KiB (RLIMIT_FSIZE: writes past it fail with EFBIG)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode == 0:
        return disk, None

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    return disk, limit


def test_a_full_disk_gives_one_line_and_no_temporary_files(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(40):
        picture(folder / f"p{k:02d}.png", seed=k)
    disk, limit = _small_disk(tmp_path)
    try:
        if limit is None:  # fill the tmpfs so the results do not fit
            (disk / "ballast").write_bytes(b"\0" * 56 * 1024)
        out = disk / "r.jsonl"
        done = scan(folder, "--db", tmp_path / "db.sqlite", "--out", out, preexec_fn=limit)
        assert done.returncode == 4, done.stderr
        assert "Traceback" not in done.stderr
        errors = [s for s in done.stderr.splitlines() if "error" in s]
        assert len(errors) == 1 and ("space" in errors[0] or "large" in errors[0]), errors
        lines = strict_lines(out)  # whole lines only, up to where the disk filled
        assert 0 < len(lines) < 40
        assert sorted(p.name for p in disk.iterdir()) == sorted(
            ["r.jsonl"] + (["ballast"] if limit is None else [])
        )
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_sigkill_mid_scan_leaves_valid_jsonl_lines(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for k in range(60):
        Image.fromarray(background(480, 640, k)).save(folder / f"p{k:02d}.png")
    out = tmp_path / "r.jsonl"
    cmd = [*SCAN, str(folder), "--db", str(tmp_path / "db.sqlite"), "--out", str(out)]
    proc = subprocess.Popen([*cmd, "--workers", "1"], env=ENV, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline and proc.poll() is None:
            if out.exists() and out.read_text().count("\n") >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the scan ended before it was killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    lines = strict_lines(out)
    assert 3 <= len(lines) < 60
    assert {d["status"] for d in lines} == {"no_face"}
    assert len({d["path"] for d in lines}) == len(lines)


def test_a_file_that_never_finishes_decoding_times_out(tmp_path):
    """The Python API with a face detector that blocks on one image: that file gets reason
    ``timeout`` and the others are scanned."""
    import threading

    from dfdetect import Detector
    from dfdetect.faces import create_face_detector
    from dfdetect.scan import ScanPipeline
    from dfdetect.scan.options import ScanOptions

    release = threading.Event()
    faces = create_face_detector("mtcnn", device="cpu")
    real_detect = faces.detect

    def detect(images, *args, **kwargs):
        if any(int(np.asarray(im)[0, 0, 0]) == 7 for im in images):  # the poisoned image
            release.wait()
        return real_detect(images, *args, **kwargs)

    faces.detect = detect
    paths = [picture(tmp_path / f"p{k}.png", seed=k) for k in range(3)]
    poisoned = np.asarray(Image.open(paths[1])).copy()
    poisoned[0, 0, 0] = 7
    Image.fromarray(poisoned).save(paths[1])
    for k in (0, 2):
        assert int(np.asarray(Image.open(paths[k]))[0, 0, 0]) != 7
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = Detector.from_pretrained("tiny-random", device="cpu")
    # far above what a face-less 160x120 image takes even on a loaded machine: only the
    # blocked file can reach it
    options = ScanOptions(workers=2, file_timeout_s=20.0)
    try:
        results = {Path(r.path).name: r for r in ScanPipeline(det, faces, options).scan(paths)}
    finally:
        release.set()
    assert results["p1.png"].error["reason"] == "timeout"
    for name in ("p0.png", "p2.png"):
        assert results[name].status == "no_face", results[name].error


def test_a_closed_stderr_or_stdout_never_breaks_a_finished_scan(tmp_path):
    picture(tmp_path / "a.png")
    table = [*SCAN[:-1], tmp_path / "a.png", "--db", tmp_path / "db.sqlite"]  # not --quiet
    for closed in ("2>&-", ">&-"):
        summary = tmp_path / f"summary{len(closed)}.json"
        done = subprocess.run(
            ["sh", "-c", f'exec "$@" {closed}', "sh", *map(str, table), "--summary", summary],
            env=ENV, capture_output=True, text=True, timeout=DEADLINE_S,
        )  # fmt: skip
        assert done.returncode == 0, (closed, done.stderr)
        assert json.loads(summary.read_text())["no_face"] == 1
        assert ("a.png" in done.stdout) == (closed == "2>&-")  # the table, when stdout is open
    summary = tmp_path / "summary-pipe.json"
    proc = subprocess.Popen(
        [*map(str, table), "--summary", summary], env=ENV,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proc.stdout.close()  # nobody reads the table: a broken pipe, as with `| head -0`
    _, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and json.loads(summary.read_text())["exit_code"] == 0
