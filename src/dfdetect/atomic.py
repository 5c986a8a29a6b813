"""Writing a file all at once or not at all: a reader never sees half of it, and a failure
(a full disk, an interrupt) leaves neither a partial file nor a temporary one behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a sibling temporary file for writing; rename it over ``path`` when the block ends
    without error, delete it when the block raises (``kwargs`` go to :func:`open`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` with :func:`atomic_open`; returns ``path``."""
    with atomic_open(path, encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)
