"""Rich progress bars for long loops (scanning, extraction, scoring, training): how many done
of how many, a rate, elapsed and remaining time."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Units per second since the task started (up to when it finished).

    Without ``counter``: the rate of the task's completed count, named by its ``unit`` field
    (``it`` when unset). With ``counter``: the rate of a number the loop keeps in that task
    field (e.g. frames while the bar counts files), shown after the number itself.
    """

    def __init__(self, counter: str | None = None) -> None:
        super().__init__()
        self.counter = counter

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        if self.counter is None:
            done, unit, text = task.completed, task.fields.get("unit", "it"), ""
        else:
            done, unit = task.fields.get(self.counter, 0), self.counter
            text = f"{done:,} {unit}, "
        rate = done / elapsed if elapsed else 0.0
        return Text(f"{text}{rate:,.1f} {unit}/s", style="cyan")


def progress_bar(
    *columns: str | ProgressColumn,
    counter: str | None = None,
    console: Console | None = None,
    enabled: bool = True,
) -> Progress:
    """Description, bar, done/total, ``columns`` (rich columns, or format strings over
    ``task``), the :class:`RateColumn` (of ``counter`` when given), elapsed and remaining time.

    Drawn on ``console`` (default: stderr); when not ``enabled`` it draws nothing but still
    counts.
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        *(TextColumn(c) if isinstance(c, str) else c for c in columns),
        RateColumn(counter),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
    )
