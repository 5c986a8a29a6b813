"""What a person sees during and after a scan: a progress bar, a verdict table, a summary."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from dfdetect.progress import progress_bar
from dfdetect.scan.results import FileResult
from dfdetect.terminal import printable

STYLES = {"fake": "bold red", "real": "bold green"}


def scan_progress(console: Console) -> Progress:
    """Progress bar over files with counts, frames and frames/s, elapsed and remaining time
    (tasks keep the frames scanned so far in their ``frames`` field)."""
    return progress_bar("files", counter="frames", console=console)


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it lies inside it, control characters
    and undecodable bytes escaped (a file name must not drive the terminal)."""
    with contextlib.suppress(ValueError):
        path = str(Path(path).relative_to(Path.cwd()))
    return printable(path)


def _faces(result: FileResult) -> str:
    skipped = f" (+{result.faces_skipped} not scored)" if result.faces_skipped else ""
    return f"{len(result.faces)}{skipped}"


def _verdict(result: FileResult) -> Text:
    if result.status == "ok":
        return Text(str(result.label).upper(), style=STYLES.get(str(result.label), ""))
    reason = (result.error or {}).get("reason", result.status)
    return Text(reason, style="yellow" if result.status == "no_face" else "magenta")


def results_table(results: Sequence[FileResult], max_rows: int = 200) -> Table:
    """A table of files: verdict, P(fake), persons (each with its verdict), faces (and those
    left unscored by ``--max-faces``), frames."""
    table = Table(title="dfdetect scan", show_lines=False)
    for name, kw in (
        ("file", {"overflow": "fold"}),
        ("verdict", {}),
        ("P(fake)", {"justify": "right"}),
        ("persons", {}),
        ("faces", {"justify": "right"}),
        ("frames", {"justify": "right"}),
    ):
        table.add_column(name, **kw)
    for r in results[:max_rows]:
        persons = Text(", ").join(
            Text(f"P{p.id} {p.prob:.2f}", style=STYLES.get(p.label, "")) for p in r.persons
        )
        prob = "" if r.prob is None else f"{r.prob:.3f}"
        table.add_row(
            Text(display_path(r.path)), _verdict(r), prob, persons, _faces(r), str(len(r.frames))
        )
    if len(results) > max_rows:
        table.caption = f"first {max_rows} of {len(results)} files; see --out for all"
    return table


class ScanTally:
    """Verdicts and failure reasons, counted file by file (for scans too large to hold)."""

    def __init__(self) -> None:
        self.files = 0
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.faces_skipped = 0
        self.files_with_faces_skipped = 0

    def add(
        self, status: str, label: str | None, reason: str | None, faces_skipped: int = 0
    ) -> None:
        """Count one file: ``label`` for scanned files, ``reason`` for failed ones, and the
        faces ``--max-faces`` left unscored."""
        self.files += 1
        self.counts[str(label) if status == "ok" else status] += 1
        if status == "error":
            self.reasons[reason or "?"] += 1
        self.faces_skipped += faces_skipped
        self.files_with_faces_skipped += faces_skipped > 0

    def summary(self, skipped: int = 0) -> dict[str, object]:
        """Counts as data (``--summary``): files, fake, real, no_face, failed, failure
        reasons (``not_found`` for inputs that named no file), faces left unscored by
        ``--max-faces`` and in how many files, and how many results came from earlier
        scans."""
        c = self.counts
        return {
            "files": self.files,
            "fake": c["fake"],
            "real": c["real"],
            "no_face": c["no_face"],
            "failed": c["error"],
            "failed_by_reason": dict(sorted(self.reasons.items())),
            "faces_skipped": self.faces_skipped,
            "files_with_faces_skipped": self.files_with_faces_skipped,
            "from_earlier_scans": skipped,
        }

    def line(self, skipped: int = 0) -> str:
        """See :func:`summary_line`."""
        s = self.summary(skipped)
        text = (
            f"{s['files']} files: {s['fake']} fake, {s['real']} real, "
            f"{s['no_face']} without faces, {s['failed']} failed"
        )
        if s["failed_by_reason"]:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in s["failed_by_reason"].items()) + ")"
        if self.faces_skipped:
            text += (
                f"; {self.faces_skipped} faces not scored (--max-faces) in "
                f"{self.files_with_faces_skipped} files"
            )
        if skipped:
            text += f"; {skipped} from earlier scans"
        return text


def _tally(results: Sequence[FileResult]) -> ScanTally:
    tally = ScanTally()
    for r in results:
        tally.add(r.status, r.label, (r.error or {}).get("reason"), r.faces_skipped)
    return tally


def scan_summary(results: Sequence[FileResult], skipped: int = 0) -> dict[str, object]:
    """Counts of a scan as data (see :meth:`ScanTally.summary`)."""
    return _tally(results).summary(skipped)


def summary_line(results: Sequence[FileResult], skipped: int = 0) -> str:
    """E.g. ``12 files: 3 fake, 7 real, 1 without faces, 1 failed (corrupt: 1); 4 from cache``."""
    return _tally(results).line(skipped)
