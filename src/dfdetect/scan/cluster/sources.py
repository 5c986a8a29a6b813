"""Where the files of a Ray scan come from: local paths, folders and globs (as in the
single-process scan), ``@LIST`` files, and URLs of pyarrow or fsspec filesystems (``s3://``,
``gs://``, ``hdfs://``, ...; ``file://`` URLs are local paths)."""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse

from dfdetect.scan.prepare import check_size
from dfdetect.scan.walk import GLOB_CHARS, expand_inputs, read_file_lists

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
CHUNK = 1 << 20


def is_url(text: str) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a local path."""
    return bool(_URL.match(text))


def filesystem(url: str):
    """``(pyarrow FileSystem, path)`` for ``url``: pyarrow's own filesystems first, then any
    fsspec one (wrapped for pyarrow)."""
    import pyarrow
    import pyarrow.fs as pafs

    try:
        return pafs.FileSystem.from_uri(url)
    except pyarrow.ArrowInvalid:  # a scheme pyarrow does not know: ask fsspec
        import fsspec

        fs, path = fsspec.core.url_to_fs(url)
        return pafs.PyFileSystem(pafs.FSSpecHandler(fs)), path


def expand_sources(inputs: Iterable[str | os.PathLike]) -> tuple[list[str], list[str]]:
    """The files named by ``inputs``: ``(sources, missing)`` where each source is an absolute
    local path or a URL, in input order (each folder's and pattern's sorted), each once."""
    entries, missing = read_file_lists(inputs)
    sources: list[str] = []
    for entry in entries:
        if entry.startswith("file://"):
            entry = unquote(urlparse(entry).path)
        if is_url(entry):
            found = list_url(entry)
        else:
            files, _ = expand_inputs([entry])
            found = [str(f.resolve()) for f in files]
        if not found:
            missing.append(entry)
        sources.extend(found)
    return list(dict.fromkeys(sources)), missing


def list_url(url: str) -> list[str]:
    """The files at ``url``: the file itself, every file under a folder or prefix (hidden
    entries skipped), or the matches of a ``*``/``?``/``[`` pattern; ``[]`` when none."""
    import pyarrow.fs as pafs

    fs, path = filesystem(url)
    tail = path.lstrip("/")
    # listed paths are filesystem paths: put back what the URL has before its path
    root = url[: len(url) - len(tail)] if url.endswith(tail) else urlparse(url).scheme + "://"
    parts = path.split("/")
    glob_at = next((i for i, part in enumerate(parts) if GLOB_CHARS & set(part)), None)
    base = path if glob_at is None else "/".join(parts[:glob_at])
    info = fs.get_file_info(base)
    if info.type == pafs.FileType.File:
        files = [info.path]
    elif info.type == pafs.FileType.Directory:
        selector = pafs.FileSelector(base, recursive=True)
        files = sorted(
            f.path
            for f in fs.get_file_info(selector)
            if f.type == pafs.FileType.File
            and not any(p.startswith(".") for p in f.path[len(base) :].split("/"))
        )
    else:
        return []
    if glob_at is not None:
        files = [f for f in files if fnmatch.fnmatchcase(f, path)]
    return [root + f.lstrip("/") for f in files]


def fetch(url: str, dest: Path | None, max_file_mb: float) -> str:
    """Hash the file at ``url``, copying it to ``dest`` when given; returns its sha256.
    Raises :class:`~dfdetect.errors.MediaError` ``too_large`` (before reading when the size
    is known), FileNotFoundError or another OSError."""
    import pyarrow.fs as pafs

    fs, path = filesystem(url)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"no such file: {url}")
    if info.size is not None:
        check_size(url, info.size, max_file_mb)
    digest, copied = hashlib.sha256(), 0
    with fs.open_input_stream(path) as src, contextlib.ExitStack() as stack:
        out = stack.enter_context(open(dest, "wb")) if dest is not None else None
        while block := src.read(CHUNK):
            copied += len(block)
            check_size(url, copied, max_file_mb)  # the size the store reported may be wrong
            digest.update(block)
            if out is not None:
                out.write(block)
    return digest.hexdigest()
