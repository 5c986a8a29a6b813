"""What became of every video of a dataset, from the list that names it to the scores: one
:class:`Accounting` per dataset, printed and written by evaluate, calibrate, robustness and
train, so a number never silently rests on fewer videos than the dataset holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from dfdetect.data.samples import FrameSample

# why a video was dropped -> the words the accounting line uses
REASONS = {
    "missing": "missing",  # named by the split file / label list, no folder
    "empty": "empty",  # a folder without a crop
    "unreadable": "every crop unreadable",
    "video_unreadable": "video unreadable",  # robustness --stage frames: the source video
    "no_face": "no face found",  # robustness --stage frames: in none of its sampled frames
}
SHOWN = 10  # dropped videos named per reason in Markdown (JSON names them all)


@dataclass(frozen=True)
class Accounting:
    """One dataset's videos: ``listed`` (by ``listed_by``: its split file or label list, else
    its folders), ``found`` (a folder exists), dropped by reason as video keys (``missing``,
    ``empty``, ``unreadable``: every crop failed to load; robustness's frames stage adds
    ``video_unreadable`` and ``no_face`` for source videos) and scored; crops (``frames``, at
    most the frames asked per video) scored and unreadable.

    :meth:`DatasetLayout.load <dfdetect.data.layouts.base.DatasetLayout.load>` builds it
    when it lists the dataset; :meth:`after_reading` adds what loading the crops found.
    """

    dataset: str
    listed_by: str
    listed: int
    found: int
    missing: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    video_unreadable: list[str] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)
    frames: int = 0
    frames_unreadable: int = 0

    @property
    def scored(self) -> int:
        """Videos with at least one crop read."""
        return self.found - sum(len(v) for r, v in self.dropped.items() if r != "missing")

    @property
    def frames_scored(self) -> int:
        """Crops read."""
        return self.frames - self.frames_unreadable

    @property
    def dropped(self) -> dict[str, list[str]]:
        """Dropped video keys by reason (only the reasons that dropped something)."""
        return {r: getattr(self, r) for r in REASONS if getattr(self, r)}

    @property
    def complete(self) -> bool:
        """Every listed video and every crop was read."""
        return not self.dropped and not self.frames_unreadable

    def after_reading(self, samples: Sequence[FrameSample], read: Sequence[bool]) -> Accounting:
        """This accounting once ``samples`` (this dataset's crops) were loaded; ``read[i]``
        says whether ``samples[i]`` could be. A video none of whose crops loaded is dropped."""
        good: dict[str, bool] = {}
        for sample, ok in zip(samples, read, strict=True):
            good[sample.video_key] = good.get(sample.video_key, False) or bool(ok)
        return replace(
            self,
            unreadable=sorted(k for k, ok in good.items() if not ok),
            frames=len(samples),
            frames_unreadable=sum(not ok for ok in read),
        )

    def line(self) -> str:
        """``FF++: 140 videos listed (split file test.json), 139 found, 137 scored; dropped:
        1 missing, 1 empty, 1 every crop unreadable; 4380 crops scored, 12 unreadable``."""
        dropped = ", ".join(f"{len(v)} {REASONS[r]}" for r, v in self.dropped.items())
        return (
            f"{self.dataset}: {self.listed} videos listed ({self.listed_by}), {self.found} found, "
            f"{self.scored} scored; dropped: {dropped or 'none'}; "
            f"{self.frames_scored} crops scored, {self.frames_unreadable} unreadable"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: every field plus ``scored`` and ``frames_scored``."""
        return {**asdict(self), "scored": self.scored, "frames_scored": self.frames_scored}


def accounting_rows(accounts: Sequence[Accounting]) -> list[dict[str, Any]]:
    """One flat row per dataset (counts, no video lists) for CSV and Markdown tables."""
    return [
        {
            "dataset": a.dataset,
            "listed_by": a.listed_by,
            "listed": a.listed,
            "found": a.found,
            "scored": a.scored,
            **{f"dropped_{r}": len(getattr(a, r)) for r in REASONS},
            "frames_scored": a.frames_scored,
            "frames_unreadable": a.frames_unreadable,
        }
        for a in accounts
    ]


def accounting_markdown(accounts: Sequence[Accounting], shown: int = SHOWN) -> str:
    """The accounting lines as a Markdown list, each with its first ``shown`` dropped videos
    per reason (the JSON outputs list them all)."""
    lines = []
    for a in accounts:
        lines.append(f"- {a.line()}")
        for reason, keys in a.dropped.items():
            lines += [f"  - {key}: {REASONS[reason]}" for key in keys[:shown]]
            if len(keys) > shown:
                lines.append(f"  - and {len(keys) - shown} more {REASONS[reason]}")
    return "## Data\n\n" + "\n".join(lines) + "\n"
