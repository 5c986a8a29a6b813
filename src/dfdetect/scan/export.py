"""Write scan results as JSON Lines (one file per line) or CSV (one face per row)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path

from dfdetect.scan.results import FileResult

CSV_COLUMNS = (
    "path", "status", "reason", "kind", "file_prob", "file_label", "threshold",
    "person", "person_prob", "person_label", "frame_index", "time_s",
    "x1", "y1", "x2", "y2", "det_score", "prob", "label", "sha256", "model", "model_key",
)  # fmt: skip
FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


def export_format(path: str | Path) -> str:
    """``"jsonl"`` or ``"csv"`` from the file suffix; anything else raises ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown export format {suffix!r}; use one of {sorted(FORMATS)}")
    return FORMATS[suffix]


def csv_rows(result: FileResult) -> list[dict[str, object]]:
    """One row per face (file and person columns repeated); one row for a file without faces."""
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


def write_results(results: Iterable[FileResult], path: str | Path) -> int:
    """Write ``results`` to ``path`` (format from its suffix) atomically; returns the count."""
    fmt = export_format(path)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        if fmt == "jsonl":
            for r in results:
                fh.write(json.dumps(r.to_dict()) + "\n")
                n += 1
        else:
            writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS, restval="")
            writer.writeheader()
            for r in results:
                writer.writerows(csv_rows(r))
                n += 1
    os.replace(tmp, path)
    return n
