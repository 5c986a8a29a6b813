"""The failure report: every input, or frame of an input, that gave no crop, and why."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dfdetect.atomic import atomic_open, write_text_atomic


@dataclass(frozen=True)
class Failure:
    """``reason`` is a short code (``corrupt``, ``no_face``, ...); ``frame_index`` is set for
    frame-level failures of a file that otherwise gave crops."""

    file: str
    reason: str
    detail: str = ""
    frame_index: int | None = None


FAILURE_COLUMNS = ("file", "frame_index", "reason", "detail")


def write_csv(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """CSV with a header, written atomically."""
    with atomic_open(path, newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="raise")
        writer.writeheader()
        writer.writerows(rows)


def write_failure_report(out: Path, failures: Sequence[Failure]) -> tuple[Path, Path]:
    """``failures.csv`` and ``failures.json`` under ``out`` (both always written, maybe empty)."""
    rows = [asdict(f) for f in failures]
    csv_path, json_path = out / "failures.csv", out / "failures.json"
    write_csv(csv_path, rows, FAILURE_COLUMNS)
    summary = {
        "n_failures": len(rows),
        "files": len({f.file for f in failures if f.frame_index is None}),
        "by_reason": dict(Counter(f.reason for f in failures if f.frame_index is None)),
        "frames_by_reason": dict(Counter(f.reason for f in failures if f.frame_index is not None)),
        "failures": rows,
    }
    write_text_atomic(json_path, json.dumps(summary, indent=2) + "\n")
    return csv_path, json_path
