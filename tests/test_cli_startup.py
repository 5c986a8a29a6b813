"""Start-up: ``dfdetect --help`` and each command's ``--help`` import no heavy library, and only
the chosen command's module is imported."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from dfdetect.cli import COMMANDS, build_parser

HEAVY = ("torch", "transformers", "torchvision", "av", "onnxruntime", "timm", "ray")
COMMAND_MODULES = {module for module, _ in COMMANDS.values()}

PROBE = """
import json, sys
from dfdetect.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or
                        m.startswith("dfdetect.cli."))))
"""


def imported_after(*argv: str) -> set[str]:
    """Modules (heavy libraries and dfdetect.cli.*) imported by ``dfdetect ARGV`` (in a fresh
    interpreter)."""
    code = PROBE.format(heavy=set(HEAVY))
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_top_level_help_imports_no_command_and_no_heavy_library() -> None:
    assert imported_after("--help") & (COMMAND_MODULES | set(HEAVY)) == set()


@pytest.mark.parametrize(
    "command", ["scan", "serve", "extract", "evaluate", "export", "prepare", "toy", "train"]
)
def test_command_help_imports_only_that_command(command: str) -> None:
    # shared option helpers (exit codes, face and runtime options) may come along
    imported = imported_after(command, "--help")
    assert imported & (COMMAND_MODULES | set(HEAVY)) == {f"dfdetect.cli.{command}"}


def test_full_parser_has_every_command_with_its_options() -> None:
    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == set(COMMANDS)
    for name, sub in commands.choices.items():
        assert callable(sub.get_default("_run")), name
        assert len(sub._actions) > 1, name  # more than --help


def test_the_scan_machinery_imports_pyav_only_for_videos() -> None:
    code = (
        "import sys, dfdetect.scan.session, dfdetect.media as m; "
        "print('av' in sys.modules, m.VideoReader.__name__, 'av' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "VideoReader", "True"]


def test_scan_seek_choices_match_the_library() -> None:
    from dfdetect.media.sampling import SEEK_MODES

    (commands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    (seek,) = (a for a in commands.choices["scan"]._actions if a.dest == "seek")
    assert tuple(seek.choices) == SEEK_MODES and seek.default is None
