"""One exit-code table for every command (see README "Exit codes"), checked on real
subprocesses: a model that cannot load is 3 everywhere, with one line and no traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from dfdetect.cli import COMMANDS
from dfdetect.cli.exits import EXIT_CODES_HELP
from dfdetect.media.synthetic import background


@pytest.mark.parametrize("command", ["scan", "evaluate", "calibrate", "robustness", "info"])
def test_a_model_that_cannot_load_exits_3(command, tmp_path):
    missing = tmp_path / "no-such-model"
    Image.fromarray(background(64, 64)).save(tmp_path / "a.png")
    args = {
        "scan": [str(tmp_path / "a.png"), "--db", str(tmp_path / "db.sqlite")],
        "evaluate": ["--data", f"x={tmp_path}", "--out", str(tmp_path / "eval")],
        "calibrate": ["--data", f"x={tmp_path}", "--out", str(tmp_path / "cal")],
        "robustness": ["--data", f"x={tmp_path}", "--out", str(tmp_path / "rob")],
        "info": [],
    }[command]
    model = [str(missing)] if command == "info" else ["--model", str(missing)]
    done = subprocess.run(
        [sys.executable, "-m", "dfdetect", command, *model, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert str(missing) in done.stderr and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error" in line]
    assert errors and all(line.startswith(f"dfdetect {command}: error: ") for line in errors)


def test_every_command_documents_the_table(capsys):
    from dfdetect.cli import main

    for command in COMMANDS:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert " ".join(EXIT_CODES_HELP.split()) in " ".join(capsys.readouterr().out.split())


def test_errors_map_onto_the_table():
    import sqlite3

    from dfdetect.cli.exits import EnvironmentProblem, exit_code
    from dfdetect.errors import (
        CheckpointError,
        DeviceUnavailable,
        DfdetectError,
        ModelNotFoundError,
    )

    assert [
        exit_code(e)
        for e in (
            ModelNotFoundError("m"),
            CheckpointError("c"),
            EnvironmentProblem("e"),
            DeviceUnavailable("d"),
            OSError(28, "No space left on device"),
            sqlite3.OperationalError("database or disk is full"),
            DfdetectError("config"),
            ValueError("bad"),
        )
    ] == [3, 3, 4, 4, 4, 4, 2, 2]
