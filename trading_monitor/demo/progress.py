"""The demo's progress bar: the simulated day and time, and what just happened."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from trading_monitor.daemon.schedule import NEW_YORK


class WeekProgress:
    """`with WeekProgress(console) as bar: run_demo(options, bar.update)`."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("[bold]{task.fields[clock]}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[what]}"), TimeElapsedColumn(), console=console,
            transient=False)
        self._task = self._progress.add_task("week", total=None, clock="", what="starting")

    def update(self, at: datetime, what: str, done: int, total: int) -> None:
        local = at.astimezone(NEW_YORK)
        self._progress.update(self._task, completed=done, total=total,
                              clock=f"{local:%a %d %b %H:%M} New York", what=what)

    def __enter__(self) -> WeekProgress:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()
