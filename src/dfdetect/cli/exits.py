"""One exit-code table for every ``dfdetect`` command, and the checks every command runs before
its first input so that a bad output path fails at once, not after the work (the device check
is :func:`dfdetect.model.device.check_device`)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dfdetect.errors import CheckpointError, DeviceUnavailable, DfdetectError, ModelNotFoundError
from dfdetect.terminal import printable

EXIT_OK = 0  # every input done
EXIT_INPUTS_FAILED = 1  # some inputs failed (each one reported with its reason)
EXIT_USAGE = 2  # bad arguments or configuration, no input
EXIT_MODEL = 3  # the model (or face detector) cannot be loaded
EXIT_ENVIRONMENT = 4  # an output cannot be written, the device is absent, the disk is full

EXIT_CODES_HELP = (
    "exit codes: 0 all done, 1 some inputs failed, 2 usage or configuration, "
    "3 model cannot load, 4 output or environment"
)
MODEL_ERRORS = (ModelNotFoundError, CheckpointError)


class EnvironmentProblem(DfdetectError):
    """An output cannot be written (exit code 4)."""


def exit_code(exc: BaseException) -> int:
    """The exit code for an error that stopped a command."""
    if isinstance(exc, MODEL_ERRORS):
        return EXIT_MODEL
    if isinstance(exc, EnvironmentProblem | DeviceUnavailable | OSError | sqlite3.Error):
        return EXIT_ENVIRONMENT
    return EXIT_USAGE


def error(command: str, message: str) -> None:
    """Print ``message`` as the command's one error line on stderr (control characters
    escaped)."""
    print(f"dfdetect {command}: error: {printable(message)}", file=sys.stderr)


def fail(command: str, exc: BaseException) -> int:
    """Print ``exc`` as one line on stderr (no traceback, control characters escaped);
    return its exit code."""
    message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, OSError) and exc.filename:
        message = f"{exc.filename}: {message}"
    error(command, message)
    return exit_code(exc)


def guard_standard_streams() -> None:
    """Point closed standard descriptors (``2>&-``; or reopened the wrong way by a wrapper
    script) at the null device, so that printing cannot fail and no file the command opens
    later takes their number."""
    for fd, direction in ((0, os.O_RDONLY), (1, os.O_WRONLY), (2, os.O_WRONLY)):
        try:
            usable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE in (direction, os.O_RDWR)
        except OSError:
            usable = False
        if not usable:
            null = os.open(os.devnull, os.O_RDWR)  # a closed fd: the lowest free, this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


@contextlib.contextmanager
def terminal_output() -> Iterator[None]:
    """Around a command's closing table and lines: when stdout or stderr is gone (a closed
    pipe, ``| head``), the rest of that output is dropped, never the command's exit code."""
    try:
        yield
    except (OSError, SystemExit):  # rich reports a broken pipe as SystemExit(1)
        null = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):  # and no second error when Python flushes
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(null, stream.fileno())
        os.close(null)


def check_writable(path: Path, *, folder: bool = False) -> None:
    """Raise :class:`EnvironmentProblem` unless ``path`` (a file, or a folder with ``folder``)
    can be created or replaced: its nearest existing parent is a writable folder."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        kind = "a folder" if path.is_dir() else "not a folder"
        raise EnvironmentProblem(f"{path}: is {kind}")
    target = path if folder and path.is_dir() else path.parent
    while not target.exists():
        target = target.parent
    if not target.is_dir():
        raise EnvironmentProblem(f"{path}: {target} is not a folder")
    try:  # os.access is wrong for root and for read-only mounts: try a real file
        with tempfile.TemporaryFile(dir=target, prefix=".dfdetect-check-"):
            pass
    except OSError as exc:
        raise EnvironmentProblem(f"{path}: cannot write in {target} ({exc.strerror})") from None
