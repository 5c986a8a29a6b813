"""dfdetect's cache folder (ONNX exports of detectors, MTCNN graphs) and how an entry in it is
kept whole: built when missing, and a damaged entry (a truncated or damaged file that no longer
loads) removed and built again once, with a warning."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from dfdetect.errors import CheckpointError
from dfdetect.runtime.export import ExportError

CACHE_ENV = "DFDETECT_CACHE"
T = TypeVar("T")


def cache_root() -> Path:
    """``$DFDETECT_CACHE``, else ``$XDG_CACHE_HOME/dfdetect`` (``~/.cache/dfdetect``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dfdetect"


def _build(folder: Path, build: Callable[[], None], complete: Callable[[], bool]) -> None:
    try:
        build()
    except (OSError, ExportError) as err:
        if complete():  # another process finished first
            return
        if isinstance(err, OSError):
            raise ExportError(f"cannot write the ONNX cache {folder}: {err}") from err
        raise


def load_cached(
    folder: Path,
    build: Callable[[], None],
    load: Callable[[], T],
    complete: Callable[[], bool],
) -> T:
    """``load()`` of the cache entry ``folder``: ``build()`` writes it first when not
    ``complete()``; an entry that does not load (:class:`CheckpointError`) is removed and built
    again once, with a warning. A build that fails raises :class:`ExportError`."""
    if not complete():
        _build(folder, build, complete)
    try:
        return load()
    except CheckpointError as err:
        warnings.warn(
            f"damaged cached export removed and exported again: {err}", UserWarning, stacklevel=3
        )
    shutil.rmtree(folder, ignore_errors=True)
    _build(folder, build, complete)
    return load()
