"""Training logs: CSV files (one row per logged step) and TensorBoard scalars."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


class CsvLog:
    """Append rows to a CSV file; on resume, rows after the resumed step are dropped first."""

    def __init__(self, path: Path, resume_step: int | None = None) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if resume_step is not None and path.is_file():
            with path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
            if rows:
                self.fields = list(rows[0])
                self._write(rows, "w")
            else:
                path.unlink()
        elif path.is_file():
            path.unlink()

    def log(self, row: dict[str, Any]) -> None:
        """Write one row (the first row fixes the columns)."""
        if self.fields is None:
            self.fields = list(row)
            self._write([], "w")
        self._write([row], "a")

    def _write(self, rows: list[dict[str, Any]], mode: str) -> None:
        with self.path.open(mode, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.fields, extrasaction="ignore")
            if mode == "w":
                writer.writeheader()
            writer.writerows(rows)


class RunLogger:
    """``metrics.csv`` (training steps), ``val.csv`` (validations) and ``tensorboard/``."""

    def __init__(self, out: Path, resume_step: int | None = None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.train = CsvLog(out / "metrics.csv", resume_step)
        self.val = CsvLog(out / "val.csv", resume_step)
        self.tb = SummaryWriter(str(out / "tensorboard"), purge_step=resume_step)

    def log_train(self, row: dict[str, Any]) -> None:
        """A training row: ``step``, ``epoch`` and scalar values."""
        self.train.log(row)
        for key, value in row.items():
            if key not in ("step", "epoch"):
                self.tb.add_scalar(f"train/{key}", value, row["step"])

    def log_val(self, row: dict[str, Any]) -> None:
        """A validation row: ``step``, ``epoch``, ``dataset`` and metric values."""
        self.val.log(row)
        for key, value in row.items():
            if key not in ("step", "epoch", "dataset"):
                self.tb.add_scalar(f"val/{row['dataset']}/{key}", value, row["step"])

    def close(self) -> None:
        """Flush TensorBoard."""
        self.tb.close()
