"""The Ray engine's parts that need no Ray: inputs (file lists, URLs through fsspec), the row
format between stages, the resumable outputs, the pool size, and the command's errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pyarrow")
fsspec = pytest.importorskip("fsspec")

from dfdetect.cli import scan as scan_cli  # noqa: E402
from dfdetect.errors import MediaError  # noqa: E402
from dfdetect.scan import FileResult, PersonResult  # noqa: E402
from dfdetect.scan.cluster import ClusterOptions  # noqa: E402
from dfdetect.scan.cluster.output import (  # noqa: E402
    BatchWriter,
    OutputError,
    read_finished,
)
from dfdetect.scan.cluster.sources import expand_sources, fetch  # noqa: E402
from dfdetect.scan.cluster.stages import prepared_to_row, row_to_prepared  # noqa: E402
from dfdetect.scan.prepare import Prepared, PreparedFace  # noqa: E402
from dfdetect.scan.results import FaceResult, FrameResult  # noqa: E402
from dfdetect.scan.walk import expand_inputs  # noqa: E402


def _results() -> list[FileResult]:
    video = FileResult(
        "/x/a.mp4", "ok", "video", prob=0.7, label="fake", threshold=0.5,
        persons=[PersonResult(0, 0.7, "fake", 2, 0.8, 0.0, 0.1)],
        faces=[
            FaceResult(0, 0.0, [1.0, 2.0, 30.0, 40.0], 0.99, 0.6, "fake", 0),
            FaceResult(1, 0.1, [2.0, 2.0, 31.0, 40.0], 0.98, 0.8, "fake", 0),
        ],
        frames=[FrameResult(0, 0.0, 1, 0.6), FrameResult(1, 0.1, 1, 0.8)],
        media={"n_frames": 2, "fps": 10.0, "duration_s": 0.2, "width": 64, "height": 48},
        warnings=[{"reason": "frames_missing", "detail": "decoded 2 of 3"}],
        sha256="aa", model="m", model_key="m@1", elapsed_s=0.5,
    )  # fmt: skip
    broken = FileResult(
        "/x/b.png", "error", error={"reason": "corrupt", "detail": "bad\nbytes"},
        sha256="bb", model="m", model_key="m@1",
    )  # fmt: skip
    return [video, broken]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_writer_appends_and_reads_back_what_it_wrote(tmp_path, suffix):
    out = tmp_path / f"results{suffix}"
    fmt = suffix[1:]
    first, second = _results()
    writer = BatchWriter(out, fmt, part_rows=1)
    writer.write([json.dumps(first.to_dict())])
    with pytest.raises(OutputError, match="another scan is writing"):
        BatchWriter(out, fmt)
    writer.close()
    writer = BatchWriter(out, fmt)  # a second run appends
    writer.write([json.dumps(second.to_dict())])
    writer.close()
    finished = read_finished(out, fmt)
    assert sorted(finished) == ["/x/a.mp4", "/x/b.png"]
    a, b = finished["/x/a.mp4"], finished["/x/b.png"]
    assert (a.sha256, a.model_key, a.status, a.label, a.reason) == ("aa", "m@1", "ok", "fake", None)
    assert (b.status, b.label, b.reason) == ("error", None, "corrupt")
    if fmt == "parquet":
        import pandas as pd

        assert len(list(out.glob("part-*.parquet"))) == 2
        frame = pd.read_parquet(out)
        row = frame.set_index("path").loc["/x/a.mp4"]
        assert row["prob"] == 0.7 and len(row["faces"]) == 2
        assert row["faces"][1]["prob"] == 0.8 and row["media"]["fps"] == 10.0
        assert row["persons"][0]["max_prob"] == 0.8


def test_a_line_cut_by_a_kill_is_dropped(tmp_path):
    out = tmp_path / "r.jsonl"
    first, second = _results()
    out.write_text(json.dumps(first.to_dict()) + "\n" + json.dumps(second.to_dict())[:40])
    assert list(read_finished(out, "jsonl")) == ["/x/a.mp4"]
    writer = BatchWriter(out, "jsonl")
    writer.write([json.dumps(second.to_dict())])
    writer.close()
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert [d["path"] for d in lines] == ["/x/a.mp4", "/x/b.png"]
    assert lines[1]["error"]["detail"] == "bad\nbytes"


def test_stale_parquet_part_of_a_killed_run_is_removed(tmp_path):
    out = tmp_path / "r.parquet"
    out.mkdir()
    (out / ".part-x-00000.parquet.tmp").write_bytes(b"half")
    BatchWriter(out, "parquet").close()
    assert sorted(p.name for p in out.iterdir()) == ["_lock"]
    assert read_finished(out, "parquet") == {}


def test_prepared_row_round_trip():
    crops = [np.full((4, 4, 3), 7, np.uint8), np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)]
    faces = [
        PreparedFace(3, 0.3, np.array([1, 2, 3, 4], np.float32), 0.9, crop, np.eye(2, 3))
        for crop in crops
    ]
    prepared = Prepared(
        "s3://b/v.mp4", "video", [(3, 0.3), (5, 0.5)], faces, {"fps": 10.0},
        [{"reason": "truncated", "detail": ""}],
    )  # fmt: skip
    meta, blob = prepared_to_row(prepared)
    back = row_to_prepared(meta, blob)
    assert back.frames == prepared.frames and back.media == prepared.media
    assert back.warnings == prepared.warnings and back.kind == "video"
    for a, b in zip(back.faces, faces, strict=True):
        np.testing.assert_array_equal(a.crop, b.crop)
        np.testing.assert_array_equal(a.box, b.box)
        assert (a.frame_index, a.time_s, a.score) == (3, 0.3, 0.9)
    assert [f.crop.size for f in row_to_prepared(meta).faces] == [0, 0]


def test_file_lists_file_urls_and_fsspec_urls(tmp_path):
    (tmp_path / "clips").mkdir()
    for name in ("clips/a.mp4", "clips/b.mp4", "photo.png", "clips/.hidden"):
        (tmp_path / name).write_bytes(b"x")
    listing = tmp_path / "list.txt"
    listing.write_text(
        f"# my corpus\n{tmp_path / 'photo.png'}\n\nfile://{tmp_path / 'clips'}\nmemory://corpus/v\n"
    )
    memory = fsspec.filesystem("memory")
    memory.pipe("/corpus/v/one.mp4", b"12345")
    memory.pipe("/corpus/v/sub/two.jpg", b"67")
    sources, missing = expand_sources([f"@{listing}", "memory://corpus/v/*.mp4", "nope"])
    assert sources == [
        str(tmp_path / "photo.png"),
        str(tmp_path / "clips" / "a.mp4"),
        str(tmp_path / "clips" / "b.mp4"),
        "memory://corpus/v/one.mp4",
        "memory://corpus/v/sub/two.jpg",
    ]
    assert missing == ["nope"]
    files, missing = expand_inputs([f"@{listing}", f"@{tmp_path / 'none.txt'}"])
    assert [f.name for f in files] == ["photo.png"]  # URLs are for the Ray engine
    none = f"@{tmp_path / 'none.txt'}"
    assert sorted(missing) == sorted([none, f"file://{tmp_path / 'clips'}", "memory://corpus/v"])

    assert fetch("memory://corpus/v/one.mp4", tmp_path / "copy", 1.0) == (
        "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5"
    )
    assert (tmp_path / "copy").read_bytes() == b"12345"
    with pytest.raises(MediaError, match="too_large"):
        fetch("memory://corpus/v/one.mp4", None, 4 / 1024 / 1024)
    with pytest.raises(FileNotFoundError):
        fetch("memory://corpus/v/gone.mp4", None, 1.0)


def test_model_pool_follows_the_gpus():
    assert ClusterOptions().model_pool(0) == (1, 0.0)
    assert ClusterOptions().model_pool(8) == (8, 1.0)
    assert ClusterOptions(gpus_per_model_worker=0.5).model_pool(2) == (4, 0.5)
    assert ClusterOptions(model_workers=3, gpus_per_model_worker=0).model_pool(8) == (3, 0)
    with pytest.raises(ValueError, match="model_workers"):
        ClusterOptions(model_workers=0)


def _run(argv, capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    scan_cli.add_arguments(parser)
    code = scan_cli.run(parser.parse_args([str(a) for a in argv]))
    return code, capsys.readouterr().err


def test_command_errors_without_ray_or_with_single_process_flags(tmp_path, capsys, monkeypatch):
    (tmp_path / "a.png").write_bytes(b"x")
    base = [tmp_path, "--engine", "ray", "--model", "tiny-random"]
    code, err = _run(base, capsys)
    assert code == 2 and "needs --out" in err
    code, err = _run([*base, "--out", tmp_path / "r.parquet", "--db", tmp_path / "d"], capsys)
    assert code == 2 and "--db: not available with --engine ray" in err
    code, err = _run([*base, "--out", tmp_path / "r.xlsx"], capsys)
    assert code == 2 and "unknown output format" in err
    code, err = _run([*base, "--out", tmp_path / "r.csv", "--prepare-cpus", "0"], capsys)
    assert code == 2 and "prepare_cpus must be > 0" in err

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    monkeypatch.delitem(sys.modules, "dfdetect.scan.cluster.engine", raising=False)
    code, err = _run([*base, "--out", tmp_path / "r.jsonl"], capsys)
    assert code == 2 and "pip install 'dfdetect[cluster]'" in err
    assert not (tmp_path / "r.jsonl").exists()
    assert os.listdir(tmp_path) == ["a.png"]


def test_nothing_imports_ray_unless_asked():
    code = (
        "import sys\n"
        "import dfdetect.cli.scan, dfdetect.scan.cluster, dfdetect.scan.cluster.sources\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ray', 'pyarrow')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
