"""Every dataset's videos accounted for: listed, found, scored, dropped by reason; extraction
in progress is never data; empty roots and impossible thresholds refused (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dfdetect.cli import main as cli
from dfdetect.data import DatasetError, create_dataset
from dfdetect.data.specs import expand_root, open_entry, parse_data_arg


def _crop(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)


def _folder_set(root: Path) -> Path:
    """8 video folders: 5 readable, 2 whose every crop is corrupt, 1 empty."""
    for k in range(3):
        _crop(root / "real" / f"r{k}" / "000.png", 40 * k)
        _crop(root / "real" / f"r{k}" / "001.png", 40 * k + 5)
    for k in range(2):
        _crop(root / "fake" / f"f{k}" / "000.png", 200 + 20 * k)
    for name in ("bad0", "bad1"):
        (root / "fake" / name).mkdir(parents=True)
        (root / "fake" / name / "000.png").write_bytes(b"not a png")
    (root / "real" / "hollow").mkdir()
    return root


def test_evaluate_accounts_for_every_video_and_exits_1_when_some_are_dropped(tmp_path, capsys):
    root = _folder_set(tmp_path / "set")
    args = ["evaluate", "--model", "tiny-random", "--runtime", "torch", "--data", str(root)]
    args += ["--bootstrap", "20", "--no-plots", "--quiet", "--out", str(tmp_path / "out")]
    assert cli(args) == 1
    out, err = capsys.readouterr()
    line = (
        "set: 8 videos listed (folders), 8 found, 5 scored; dropped: 1 empty, "
        "2 every crop unreadable; 8 crops scored, 2 unreadable"
    )
    assert line in out and "--allow-missing" in err
    assert "set/fake/bad0: every crop unreadable" in out and "set/real/hollow: empty" in out
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())["data"][0]
    assert data["empty"] == ["set/real/hollow"]
    assert data["unreadable"] == ["set/fake/bad0", "set/fake/bad1"]
    assert (data["listed"], data["found"], data["scored"]) == (8, 8, 5)
    row = pd.read_csv(tmp_path / "out" / "data.csv").iloc[0]
    assert (row["dropped_empty"], row["dropped_unreadable"], row["frames_scored"]) == (1, 2, 8)

    assert cli([*args, "--allow-missing"]) == 0  # accepted, still reported
    assert line in capsys.readouterr().out


def _ff_tree(root: Path) -> Path:
    pairs = {"train": [["000", "001"]], "val": [["002", "003"]], "test": [["004", "005"]]}
    (root / "splits").mkdir(parents=True)
    for split, p in pairs.items():
        (root / "splits" / f"{split}.json").write_text(json.dumps(p))
    for ((a, b),) in pairs.values():
        for video in (a, b):
            _crop(root / "real" / video / "000.png")
        for video in (f"{a}_{b}", f"{b}_{a}"):
            _crop(root / "DF" / video / "000.png", 255)
    return root


def test_ff_test_videos_named_by_the_split_file_but_absent_are_missing(tmp_path):
    root = _ff_tree(tmp_path / "FF")
    for path in (root / "real" / "005").iterdir():
        path.unlink()
    (root / "real" / "005").rmdir()
    samples, accounting = open_entry({"dataset": "ff++", "root": str(root), "split": "test"})
    assert {s.video for s in samples} == {"004", "004_005", "005_004"}
    assert accounting.listed_by == "split file test.json"
    assert (accounting.listed, accounting.found, accounting.scored) == (4, 3, 3)
    assert accounting.missing == ["FF++/real/005"] and not accounting.complete


def test_a_killed_extraction_leaves_no_video(tmp_path):
    root = _ff_tree(tmp_path / "FF")
    for path in (root / "real" / "005").iterdir():
        path.unlink()
    (root / "real" / "005").rename(root / "real" / ".005.partial-4242")
    _crop(root / "real" / ".005.partial-4242" / "000.png")  # SIGKILL left it half written
    _crop(root / "DF" / ".004_005.partial-77" / "000.png")
    samples, accounting = open_entry({"dataset": "ff++", "root": str(root), "split": "test"})
    assert not any("partial" in str(s.path) for s in samples)
    assert accounting.missing == ["FF++/real/005"]
    folder = create_dataset("folder", _folder_set(tmp_path / "set"))
    (tmp_path / "set" / "real" / ".r9.partial-1").mkdir()
    _crop(tmp_path / "set" / "real" / ".r9.partial-1" / "000.png")
    assert not any(s.video.startswith(".") for s in folder.samples())


@pytest.mark.parametrize("text", ["folder=", "ff++=@test", "", "cdfv2= @test"])
def test_an_empty_root_is_refused(text):
    with pytest.raises(DatasetError, match="root is empty"):
        parse_data_arg(text, "test")


def test_an_empty_root_exits_2_before_the_model_loads(tmp_path):
    command = [sys.executable, "-m", "dfdetect", "evaluate", "--model", str(tmp_path / "none")]
    for text in ("folder=", "ff++=@test"):
        done = subprocess.run(
            [*command, "--data", text, "--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 2, done.stderr  # not 3 (model), not 0 (the current folder)
        assert "root is empty" in done.stderr
    with pytest.raises(DatasetError, match="root is empty"):
        expand_root("")


@pytest.mark.parametrize("command", ["evaluate", "calibrate"])
@pytest.mark.parametrize("value", ["2", "-0.1", "nan"])
def test_thresholds_outside_0_1_are_usage_errors(command, value, tmp_path, capsys):
    flag = "--threshold" if command == "evaluate" else "--target-fpr"
    args = [command, "--model", "tiny-random", "--data", str(tmp_path), flag, value]
    args += ["--out", str(tmp_path / "out")]
    if command == "evaluate":
        with pytest.raises(SystemExit) as stop:
            cli(args)
        assert stop.value.code == 2
    else:
        assert cli(args) == 2
    assert "[0, 1" in capsys.readouterr().err
