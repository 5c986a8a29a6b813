"""SQLite store of scan results, keyed by file content and model, committed file by file.

A result is written and committed (WAL journal) the moment its file is finished, so a scan
killed at any point keeps everything it reported and a re-run skips those files. Failed files
are stored too (for exports) but are retried by the next run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from dfdetect.errors import MediaError
from dfdetect.media.sniff import require_regular_file
from dfdetect.scan.results import STATUS_ERROR, FileResult
from dfdetect.scan.walk import symlink_target

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL,
    model_key TEXT NOT NULL,
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_at REAL NOT NULL,
    PRIMARY KEY (sha256, model_key)
);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT NOT NULL,
    model_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (path, model_key)
);
CREATE TABLE IF NOT EXISTS visuals (
    sha256 TEXT NOT NULL,
    model_key TEXT NOT NULL,
    name TEXT NOT NULL,
    image BLOB NOT NULL,
    PRIMARY KEY (sha256, model_key, name)
);
"""


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_key(path: str | Path, max_file_mb: float) -> str:
    """The file's sha256; for files a scan will refuse (too large, unreadable) a key derived
    from the path, so they are never hashed."""
    try:  # FIFOs and devices are never opened: reading them would block or never end
        if require_regular_file(path).st_size <= max_file_mb * 1024 * 1024:
            return file_sha256(path)
    except (MediaError, OSError):  # the scan itself records why the file cannot be read
        pass
    return unhashed_key(str(path))


def unhashed_key(name: str) -> str:
    """The file key of a file that is not hashed, derived from its path or URL."""
    return "unhashed:" + hashlib.sha256(name.encode()).hexdigest()


class ResultStore:
    """Results of scans in one SQLite file; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def get(self, sha256: str, model_key: str, *, need_visuals: bool = False) -> FileResult | None:
        """A finished (not failed) result for this content and model, else ``None``; with
        ``need_visuals``, only a result stored with its report images counts."""
        row = self._db.execute(
            "SELECT result FROM results WHERE sha256=? AND model_key=? AND status!=?",
            (sha256, model_key, STATUS_ERROR),
        ).fetchone()
        if row is None:
            return None
        result = FileResult.from_dict(json.loads(row[0]))
        if need_visuals and result.status != "no_face" and not self.visual_names(sha256, model_key):
            return None
        return result

    def put(
        self,
        result: FileResult,
        sha256: str,
        model_key: str,
        visuals: dict[str, bytes] | None = None,
    ) -> None:
        """Write one file's result (and encoded report images) and commit."""
        now = time.time()
        text = json.dumps(result.to_dict(), allow_nan=False)
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?)",
                (sha256, model_key, result.status, text, now),
            )
            self._db.execute(
                "DELETE FROM visuals WHERE sha256=? AND model_key=?", (sha256, model_key)
            )
            self._db.executemany(
                "INSERT INTO visuals VALUES (?, ?, ?, ?)",
                [(sha256, model_key, k, v) for k, v in (visuals or {}).items()],
            )
            self._db.execute(
                "INSERT OR REPLACE INTO paths VALUES (?, ?, ?, ?)",
                (result.path, model_key, sha256, now),
            )

    def link_path(self, path: str, sha256: str, model_key: str) -> None:
        """Record that ``path`` holds already-scanned content."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO paths VALUES (?, ?, ?, ?)",
                (path, model_key, sha256, time.time()),
            )

    def visual_names(self, sha256: str, model_key: str) -> list[str]:
        rows = self._db.execute(
            "SELECT name FROM visuals WHERE sha256=? AND model_key=? ORDER BY name",
            (sha256, model_key),
        )
        return [r[0] for r in rows]

    def visuals(self, sha256: str, model_key: str) -> dict[str, bytes]:
        """The encoded images stored with a result, by name."""
        rows = self._db.execute(
            "SELECT name, image FROM visuals WHERE sha256=? AND model_key=?", (sha256, model_key)
        )
        return {name: bytes(blob) for name, blob in rows}

    def results_for(self, paths: list[str], model_key: str) -> Iterator[tuple[FileResult, str]]:
        """``(result, sha256)`` for each of ``paths`` that has a result, in the given order,
        with ``result.path`` set to that path (the same content may live at several paths)."""
        for path in paths:
            row = self._db.execute(
                "SELECT r.result, r.sha256 FROM paths p JOIN results r "
                "ON r.sha256=p.sha256 AND r.model_key=p.model_key "
                "WHERE p.path=? AND p.model_key=?",
                (path, model_key),
            ).fetchone()
            if row is not None:
                result = FileResult.from_dict(json.loads(row[0]))
                result.path, result.target = path, symlink_target(path)
                yield result, row[1]
