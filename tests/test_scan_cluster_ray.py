"""``dfdetect scan --engine ray`` on a real local Ray (2 CPUs, started once for the module):
the same verdicts as the single-process scan, resume after a finished run and after a killed
driver, and the model actor killed by pid mid-run."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ray.data")

import ray
import ray.data

from dfdetect.cli import scan as scan_cli
from dfdetect.faces import create_face_detector
from dfdetect.media.synthetic import background, face_image, face_video
from dfdetect.scan import ScanOptions, ScanPipeline
from dfdetect.scan.cluster import ClusterOptions
from dfdetect.scan.cluster.engine import scan_on_ray
from dfdetect.scan.cluster.output import read_finished
from dfdetect.scan.cluster.sources import expand_sources
from test_scan_media import load_crop

FRAMES = 4
N_CLIPS = 8
# one file per prepare task and per model call: results stream file by file
STREAMING = {"files_per_task": 1, "model_batch_files": 1}


# Ray Data starts the stages only once the model actor is up, so that results come file by
# file at the pace of the prepare tasks (not in one burst of files prepared while the actor
# was loading): a kill after the first result then lands with files still to come.
WAIT_FOR_ACTORS_S = 600


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray with 2 CPUs for this module; its GCS address for other drivers."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    context = ray.data.DataContext.get_current()
    saved, context.wait_for_min_actors_s = context.wait_for_min_actors_s, WAIT_FOR_ACTORS_S
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        context.wait_for_min_actors_s = saved
        ray.shutdown()


@pytest.fixture(scope="module")
def crops(sample_faces):
    return [load_crop(p) for p in sample_faces["real"][:2] + sample_faces["fake"][:1]]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, crops) -> Path:
    """Two photos, a two-person video, a faceless photo, an empty and a corrupt file."""
    root = tmp_path_factory.mktemp("mixed")
    face_image(root / "photo1.png", crops[0])
    face_image(root / "photo2.jpg", crops[2])
    face_video(root / "two.mp4", crops[:2], n_frames=6, size=(400, 240))
    Image.fromarray(background(240, 320, seed=5)).save(root / "noface.png")
    (root / "empty.mp4").write_bytes(b"")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50)
    return root


@pytest.fixture(scope="module")
def clips(tmp_path_factory, crops) -> Path:
    """``N_CLIPS`` one-face videos, each different."""
    root = tmp_path_factory.mktemp("clips")
    for k in range(N_CLIPS):
        face_video(root / f"clip{k}.mp4", [crops[k % 3]], n_frames=FRAMES, seed=k)
    return root


@pytest.fixture(scope="module")
def clips_single(tiny_detector, clips) -> dict[str, dict]:
    return single_process(tiny_detector, clips)


def single_process(tiny_detector, folder: Path) -> dict[str, dict]:
    """The single-process scan's results, by path."""
    pipeline = ScanPipeline(
        tiny_detector, create_face_detector("mtcnn", device="cpu"), ScanOptions(frames=FRAMES)
    )
    paths, _ = expand_sources([folder])
    with warnings.catch_warnings():  # module fixtures run outside conftest's filter
        warnings.filterwarnings("ignore", message=".*tiny-random.*")
        return {r.path: r.to_dict() for r in pipeline.scan(paths)}


def assert_same(got: dict, want: dict) -> None:
    assert got["status"] == want["status"] and got["kind"] == want["kind"]
    assert (got["error"] or {}).get("reason") == (want["error"] or {}).get("reason")
    assert got["sha256"] is not None and len(got["persons"]) == len(want["persons"])
    assert len(got["frames"]) == len(want["frames"])
    got_probs = [got["prob"], *(f["prob"] for f in got["faces"])]
    want_probs = [want["prob"], *(f["prob"] for f in want["faces"])]
    assert len(got_probs) == len(want_probs)
    if want["prob"] is None:
        assert got["prob"] is None
        got_probs, want_probs = got_probs[1:], want_probs[1:]
    np.testing.assert_allclose(got_probs, want_probs, atol=1e-5, rtol=0)


def run_cli(argv, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    scan_cli.add_arguments(parser)
    code = scan_cli.run(parser.parse_args([str(a) for a in argv]))
    return code, capsys.readouterr().err


def lines_of(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(s) for s in path.read_text().splitlines(keepends=True) if s.endswith("\n")]


def test_same_verdicts_as_single_process_then_nothing_to_redo(
    ray_address, mixed, tiny_detector, tmp_path, capsys
):
    import pandas as pd
    import pyarrow.parquet as pq

    want = single_process(tiny_detector, mixed)
    names = sorted(p.name for p in mixed.iterdir())
    listing = tmp_path / "files.txt"  # a file list holding file:// URLs and plain paths
    listing.write_text(
        "".join(f"file://{mixed / n}\n" if k % 2 else f"{mixed / n}\n" for k, n in enumerate(names))
    )
    out = tmp_path / "results.parquet"
    argv = [f"@{listing}", "--engine", "ray", "--model", "tiny-random", "--frames", FRAMES]
    code, err = run_cli([*argv, "--out", out, "--quiet"], capsys)
    assert code == 1, err  # as the single-process scan: the empty and the corrupt file failed
    assert "6 files: 0 fake, 3 real, 1 without faces, 2 failed" in err
    assert sorted(pd.read_parquet(out)["path"]) == sorted(want)  # a dataset pandas reads
    got = {r["path"]: r for r in pq.read_table(out).to_pylist()}
    assert sorted(got) == sorted(want)
    for path, result in want.items():
        assert_same(got[path], result)
    assert {want[p]["error"]["reason"] for p in want if want[p]["status"] == "error"} == {
        "zero_byte",
        "truncated",
    }

    parts = {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    code, err = run_cli([*argv, "--out", out, "--quiet"], capsys)
    assert code == 1 and "6 from earlier scans" in err and "0 results written" in err
    assert {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == parts
    code, err = run_cli([*argv[:-1], 2, "--out", out, "--quiet"], capsys)  # other options
    assert code == 2 and "holds results of another model or other options" in err


def test_inputs_that_name_no_file_are_not_found_rows_written_once(
    ray_address, mixed, tmp_path, capsys
):
    out = tmp_path / "results.jsonl"
    named = [mixed / "photo1.png", tmp_path / "missing.jpg", f"{tmp_path}/none/*.png"]
    argv = [*named, "--engine", "ray", "--model", "tiny-random", "--frames", FRAMES]
    code, err = run_cli([*argv, "--out", out, "--quiet"], capsys)
    assert code == 1, err
    assert "3 files: 0 fake, 1 real, 0 without faces, 2 failed (not_found: 2)" in err
    lost = {r["path"]: r["error"]["detail"] for r in lines_of(out) if r["status"] == "error"}
    assert lost == {
        str(tmp_path / "missing.jpg"): "no such file or folder",
        f"{tmp_path}/none/*.png": "no file matches the pattern",
    }
    code, err = run_cli([*argv, "--out", out, "--quiet"], capsys)  # counted again, not rewritten
    assert code == 1 and "2 failed (not_found: 2)" in err and "0 results written" in err
    assert len(lines_of(out)) == 3


def test_driver_killed_mid_run_then_rerun_writes_every_file_once(
    ray_address, clips, clips_single, tmp_path, capsys
):
    out = tmp_path / "results.jsonl"
    driver = (
        "import sys\n"
        "from dfdetect.scan import ScanOptions\n"
        "from dfdetect.scan.cluster import ClusterOptions\n"
        "from dfdetect.scan.cluster.engine import scan_on_ray\n"
        "from dfdetect.scan.cluster.sources import expand_sources\n"
        "sources, _ = expand_sources([sys.argv[1]])\n"
        f"cluster = ClusterOptions(address=sys.argv[3], **{STREAMING!r})\n"
        "scan_on_ray(sources, sys.argv[2], model='tiny-random',\n"
        f"            options=ScanOptions(frames={FRAMES}), cluster=cluster)\n"
    )
    env = {
        **os.environ,
        "PYTHONWARNINGS": "ignore",
        "RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S": str(WAIT_FOR_ACTORS_S),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", driver, str(clips), str(out), ray_address],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not lines_of(out) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, f"the driver ended before it was killed: {proc.stderr.read()}"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    before = out.read_bytes()
    done = lines_of(out)
    assert 1 <= len(done) < N_CLIPS  # killed part-way, with results on disk

    code, err = run_cli(
        [clips, "--engine", "ray", "--model", "tiny-random", "--frames", FRAMES, "--out", out],
        capsys,
    )
    assert code == 0, err
    assert f"{len(done)} from earlier scans" in err
    assert out.read_bytes().startswith(before[: before.rfind(b"\n") + 1])  # kept as written
    results = lines_of(out)
    assert sorted(r["path"] for r in results) == sorted(str(p) for p in clips.iterdir())
    for r in results:
        assert_same(r, clips_single[r["path"]])


def _descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (the test's own Ray: raylet, workers, actors)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _model_actor_pid() -> int | None:
    for pid in _descendants(os.getpid()):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"ray::") and b"ModelWorker" in title:
            return pid
    return None


def test_model_actor_killed_mid_run_loses_and_duplicates_nothing(
    ray_address, clips, clips_single, tmp_path
):
    out = tmp_path / "results.csv"
    killed: list[tuple[int, int]] = []  # (pid, files written when it was killed)

    def kill_the_model_actor_after_the_first_result() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            time.sleep(0.02)
            done = len(read_finished(out, "csv")) if out.exists() else 0
            pid = _model_actor_pid() if done else None
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, done))

    watcher = threading.Thread(target=kill_the_model_actor_after_the_first_result, daemon=True)
    watcher.start()
    sources, _ = expand_sources([clips])
    report = scan_on_ray(
        sources, out, model="tiny-random", options=ScanOptions(frames=FRAMES),
        cluster=ClusterOptions(**STREAMING),
    )  # fmt: skip
    watcher.join(timeout=10)
    assert killed and killed[0][1] < N_CLIPS, "the actor was not killed mid-run"
    assert report.written == N_CLIPS and not report.failed
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted({r["path"] for r in rows}) == sorted(clips_single)
    for path, result in clips_single.items():
        mine = [r for r in rows if r["path"] == path]
        assert len(mine) == len(result["faces"])  # one row per face: the file came once
        np.testing.assert_allclose(
            [float(r["prob"]) for r in mine], [f["prob"] for f in result["faces"]], atol=1e-5
        )
