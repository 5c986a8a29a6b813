"""The results of a Ray scan on disk, which are also what a re-run resumes from.

Parquet: a folder of part files (``part-RUN-SEQ.parquet``, one schema, nested persons, faces
and frames) that pandas, DuckDB and Spark read as one dataset; each part is written to a
hidden temporary name and renamed, so a killed run leaves only whole parts. JSONL (one file
per line) and CSV (one face per row) are appended to as files finish; a line cut short by a
kill is dropped before the next run appends. One run writes to an output at a time (a lock).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dfdetect.errors import DfdetectError
from dfdetect.scan.results import FileResult
from dfdetect.scan.writers import CSV_COLUMNS, append_all, csv_rows

PART_GLOB = "part-*.parquet"


class OutputError(DfdetectError):
    """The output cannot take this scan's results: another scan is writing to it, or it
    holds results of another model or other result-changing options."""


def parquet_schema():
    """The Parquet schema of a :class:`FileResult` row (``FileResult.to_dict`` keys)."""
    import pyarrow as pa

    reason = pa.struct([("reason", pa.string()), ("detail", pa.string())])
    return pa.schema(
        [
            ("path", pa.string()),
            ("status", pa.string()),
            ("kind", pa.string()),
            ("prob", pa.float64()),
            ("label", pa.string()),
            ("threshold", pa.float64()),
            ("persons", pa.list_(pa.struct([
                ("id", pa.int64()), ("prob", pa.float64()), ("label", pa.string()),
                ("n_faces", pa.int64()), ("max_prob", pa.float64()),
                ("first_time_s", pa.float64()), ("last_time_s", pa.float64()),
            ]))),
            ("faces", pa.list_(pa.struct([
                ("frame_index", pa.int64()), ("time_s", pa.float64()),
                ("box", pa.list_(pa.float64())), ("score", pa.float64()),
                ("prob", pa.float64()), ("label", pa.string()), ("person", pa.int64()),
            ]))),
            ("frames", pa.list_(pa.struct([
                ("index", pa.int64()), ("time_s", pa.float64()),
                ("n_faces", pa.int64()), ("prob", pa.float64()), ("faces_skipped", pa.int64()),
            ]))),
            ("error", reason),
            ("warnings", pa.list_(reason)),
            ("faces_skipped", pa.int64()),
            ("media", pa.struct([
                ("n_frames", pa.int64()), ("fps", pa.float64()), ("duration_s", pa.float64()),
                ("width", pa.int64()), ("height", pa.int64()),
            ])),
            ("sha256", pa.string()),
            ("model", pa.string()),
            ("model_key", pa.string()),
            ("elapsed_s", pa.float64()),
        ]
    )  # fmt: skip


@dataclass(frozen=True)
class Finished:
    """What an earlier run wrote for one path: enough to skip it and to count it."""

    sha256: str | None
    model_key: str
    status: str
    label: str | None
    reason: str | None
    faces_skipped: int = 0


def read_finished(out: Path, fmt: str) -> dict[str, Finished]:
    """Every path the output at ``out`` holds a result for (none when it does not exist)."""
    if fmt == "parquet":
        return dict(_parquet_finished(out))
    if not out.exists():
        return {}
    with open(out, newline="", encoding="utf-8") as fh:
        lines = (line for line in fh if line.endswith("\n"))  # one cut short by a kill is not
        if fmt == "jsonl":
            rows = (json.loads(line) for line in lines if line.strip())
            return {
                d["path"]: Finished(
                    d["sha256"], d.get("model_key") or "", d["status"], d.get("label"),
                    (d.get("error") or {}).get("reason"), d.get("faces_skipped") or 0,
                )
                for d in rows
            }  # fmt: skip
        return {
            r["path"]: Finished(
                r["sha256"], r["model_key"], r["status"], r["file_label"] or None,
                r["reason"] or None, int(r.get("faces_skipped") or 0),
            )
            for r in csv.DictReader(lines)
        }  # fmt: skip


def _parquet_finished(out: Path) -> Iterator[tuple[str, Finished]]:
    import pyarrow.parquet as pq

    columns = ["path", "sha256", "model_key", "status", "label", "error", "faces_skipped"]
    for part in sorted(out.glob(PART_GLOB)):
        names = pq.read_schema(part).names  # parts of earlier versions lack newer columns
        for r in pq.read_table(part, columns=[c for c in columns if c in names]).to_pylist():
            reason = (r["error"] or {}).get("reason")
            yield r["path"], Finished(
                r["sha256"], r["model_key"], r["status"], r["label"], reason,
                r.get("faces_skipped") or 0,
            )  # fmt: skip


class BatchWriter:
    """Appends batches of results to ``out`` in format ``fmt`` (a name of
    :data:`dfdetect.scan.writers.OUTPUT_FORMATS`); holds the output's lock until closed.

    Parquet rows are buffered into a part of ``part_rows`` rows, or fewer once ``flush_s``
    seconds have passed since the last part; JSONL and CSV rows go to disk on every
    :meth:`write`.
    """

    def __init__(self, out: Path, fmt: str, *, part_rows: int = 1000, flush_s: float = 30.0):
        self.out, self.fmt = out, fmt
        self.part_rows, self.flush_s = part_rows, flush_s
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
        self._rows: list[dict] = []
        self._parts = 0
        self._last = time.monotonic()
        if fmt == "parquet" and out.exists() and not out.is_dir():
            raise OutputError(f"{out} is a file: Parquet results go into a folder of parts")
        lock_path = out / "_lock" if fmt == "parquet" else out.with_name(f".{out.name}.lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(lock_path, "w")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OutputError(f"{out}: another scan is writing to it") from None
        if fmt == "parquet":
            for stale in out.glob(".part-*.tmp"):  # from a run killed while writing a part
                stale.unlink()
        else:
            self._fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._drop_cut_line()
            if fmt == "csv" and os.fstat(self._fd).st_size == 0:
                self._write_csv([], header=True)

    def write(self, results: list[str]) -> None:
        """Append results given as the JSON of :meth:`FileResult.to_dict`."""
        if self.fmt == "parquet":
            self._rows.extend(json.loads(r) for r in results)
            due = time.monotonic() - self._last >= self.flush_s
            if len(self._rows) >= self.part_rows or (self._rows and due):
                self._write_part()
        elif self.fmt == "jsonl":
            self._append("".join(r + "\n" for r in results))
        else:
            self._write_csv([FileResult.from_dict(json.loads(r)) for r in results])

    def close(self) -> None:
        """Write what is buffered, release the lock."""
        try:
            if self.fmt == "parquet":
                if self._rows:
                    self._write_part()
            else:
                os.fsync(self._fd)
                os.close(self._fd)
        finally:
            self._lock.close()

    def _write_part(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        name = f"part-{self.run_id}-{self._parts:05d}.parquet"
        tmp = self.out / f".{name}.tmp"
        pq.write_table(pa.Table.from_pylist(self._rows, schema=parquet_schema()), tmp)
        os.replace(tmp, self.out / name)
        self._parts += 1
        self._rows = []
        self._last = time.monotonic()

    def _write_csv(self, results: list[FileResult], header: bool = False) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="")
        if header:
            writer.writeheader()
        for r in results:
            writer.writerows(csv_rows(r))
        self._append(buffer.getvalue())

    def _append(self, text: str) -> None:
        append_all(self._fd, text.encode("utf-8"))

    def _drop_cut_line(self, chunk: int = 1 << 16) -> None:
        """Truncate a last line without its newline (a write cut short by a kill)."""
        size = keep = os.fstat(self._fd).st_size
        with open(self.out, "rb") as fh:
            end = size
            while end > 0:
                start = max(0, end - chunk)
                fh.seek(start)
                newline = fh.read(end - start).rfind(b"\n")
                if newline >= 0:
                    keep = start + newline + 1
                    break
                end = keep = start
        if keep < size:
            os.truncate(self.out, keep)
