"""Turn the paths, folders, glob patterns and file lists a user typed into a list of files."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

GLOB_CHARS = frozenset("*?[")
LIST_PREFIX = "@"


def read_file_lists(inputs: Iterable[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """``inputs`` with each ``@LIST`` replaced by the entries of the text file LIST: one path,
    folder, glob or URL per line; blank lines and lines starting with ``#`` are skipped.

    Returns ``(entries, missing)``: ``missing`` names the lists that could not be read.
    """
    entries: list[str] = []
    missing: list[str] = []
    for raw in inputs:
        text = os.fspath(raw)
        if not text.startswith(LIST_PREFIX):
            entries.append(text)
            continue
        try:
            lines = Path(text[len(LIST_PREFIX) :]).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            missing.append(text)
            continue
        entries.extend(s for line in lines if (s := line.strip()) and not s.startswith("#"))
    return entries, missing


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Files named by ``inputs`` (files, folders walked recursively, ``*``/``**`` globs,
    ``@LIST`` text files of such inputs: see :func:`read_file_lists`).

    Returns ``(files, missing)``: files in input order (each folder's and glob's sorted),
    each once, hidden files and folders skipped inside folders; ``missing`` lists inputs that
    matched nothing. Every file is kept whatever its extension: the scan sniffs the content.
    Nothing is opened or resolved here: a symlinked file keeps the name it was given, and
    FIFOs, devices and symlink loops are kept so the scan reports them (without reading them);
    symlinked folders are not followed, so a link loop cannot make the walk run forever.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    inputs, missing = read_file_lists(inputs)

    def add(path: Path) -> None:
        key = Path(os.path.abspath(path))  # not resolve(): it raises on symlink loops
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in inputs:
        text = os.fspath(raw)
        if GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                missing.append(text)
            for m in matches:
                p = Path(m)
                for f in _walk(p) if p.is_dir() else [p]:
                    add(f)
            continue
        path = Path(text)
        if path.is_dir():
            for f in _walk(path):
                add(f)
        elif path.exists() or path.is_symlink():
            add(path)
        else:
            missing.append(text)
    return files, missing


def why_missing(entry: str) -> str:
    """The ``not_found`` detail of an input ``entry`` that named no file."""
    if entry.startswith(LIST_PREFIX):
        return "the file list cannot be read"
    if "://" in entry:
        return "nothing at this URL"
    if GLOB_CHARS & set(entry):
        return "no file matches the pattern"
    return "no such file or folder"


def _walk(folder: Path) -> list[Path]:
    """Entries under ``folder`` that are not folders, recursively, sorted, skipping hidden
    entries and never following symlinked folders."""
    out = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root) / n for n in sorted(names) if not n.startswith("."))
    return out


def symlink_target(path: str | os.PathLike) -> str | None:
    """Where the symlinked file ``path`` finally points (None when it is not a symlink)."""
    return os.path.realpath(path) if os.path.islink(path) else None
