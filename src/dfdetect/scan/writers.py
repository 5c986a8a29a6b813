"""Scan result files: the registry of output formats both engines write (JSON Lines, one file
per line; CSV, one face per row; Parquet parts, Ray engine only) and the local engine's writer."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dfdetect.scan.results import FileResult

CSV_COLUMNS = (
    "path", "status", "reason", "kind", "file_prob", "file_label", "threshold",
    "person", "person_prob", "person_label", "frame_index", "time_s",
    "x1", "y1", "x2", "y2", "det_score", "prob", "label", "sha256", "model", "model_key",
    "faces_skipped",
)  # fmt: skip


@dataclass(frozen=True)
class OutputFormat:
    """A result file format: its name, the suffixes that choose it and the engines
    (``--engine`` values) that write it."""

    name: str
    suffixes: tuple[str, ...]
    engines: tuple[str, ...]


OUTPUT_FORMATS = (
    OutputFormat("jsonl", (".jsonl", ".ndjson"), ("single", "ray")),
    OutputFormat("csv", (".csv",), ("single", "ray")),
    OutputFormat("parquet", (".parquet",), ("ray",)),  # a folder of part files
)
_NOUN = {"single": "export", "ray": "output"}  # what each engine's errors call the file


def output_format(path: str | Path, engine: str = "single") -> str:
    """The name of the format ``engine`` writes to ``path``, from its suffix; a suffix of no
    format that engine writes raises ValueError."""
    known = {s: f.name for f in OUTPUT_FORMATS if engine in f.engines for s in f.suffixes}
    suffix = Path(path).suffix.lower()
    if suffix not in known:
        raise ValueError(
            f"{path}: unknown {_NOUN[engine]} format {suffix!r}; use one of {sorted(known)}"
        )
    return known[suffix]


def append_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to the file descriptor ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def csv_rows(result: FileResult) -> list[dict[str, object]]:
    """One row per face (file and person columns repeated); one row for a file without faces.
    ``faces_skipped`` is the file's count of faces left unscored by ``--max-faces``."""
    base = {
        "path": result.path,
        "status": result.status,
        "reason": (result.error or {}).get(
            "reason", "no_face" if result.status == "no_face" else ""
        ),
        "kind": result.kind or "",
        "file_prob": result.prob,
        "file_label": result.label or "",
        "threshold": result.threshold,
        "sha256": result.sha256 or "",
        "model": result.model or "",
        "model_key": result.model_key or "",
        "faces_skipped": result.faces_skipped,
    }
    if not result.faces:
        return [base]
    persons = {p.id: p for p in result.persons}
    rows = []
    for f in result.faces:
        p = persons[f.person]
        x1, y1, x2, y2 = f.box
        rows.append(
            base
            | {"person": f.person, "person_prob": p.prob, "person_label": p.label}
            | {"frame_index": f.frame_index, "time_s": f.time_s}
            | {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "det_score": f.score}
            | {"prob": f.prob, "label": f.label}
        )
    return rows


class ResultWriter:
    """Appends results to a JSONL or CSV file (format from the suffix) as they come.

    Every result is one ``write`` of whole lines straight to the file, so a scan killed at any
    point leaves a file of valid lines for what it finished. When a write fails (a full disk)
    the file is cut back to its last whole line and the error is raised.
    """

    def __init__(self, path: str | Path) -> None:
        self.format = output_format(path)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._size = 0
        if self.format == "csv":
            self._append(self._csv_text([dict(zip(CSV_COLUMNS, CSV_COLUMNS, strict=True))]))

    def write(self, result: FileResult) -> None:
        """Append one file's line (JSONL) or rows (CSV); strict JSON (no NaN tokens)."""
        if self.format == "jsonl":
            text = json.dumps(result.to_dict(), allow_nan=False) + "\n"
        else:
            text = self._csv_text(csv_rows(result))
        self._append(text)
        self.count += 1

    def close(self) -> None:
        """Close the file (what was written stays)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _append(self, text: str) -> None:
        data = text.encode("utf-8")
        try:
            append_all(self._fd, data)
        except OSError:
            os.ftruncate(self._fd, self._size)
            raise
        self._size += len(data)

    @staticmethod
    def _csv_text(rows: list[dict[str, object]]) -> str:
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="").writerows(rows)
        return buffer.getvalue()


def write_results(results: Iterable[FileResult], path: str | Path) -> int:
    """Write ``results`` to ``path`` (format from its suffix); returns the count."""
    with ResultWriter(path) as writer:
        for result in results:
            writer.write(result)
    return writer.count
