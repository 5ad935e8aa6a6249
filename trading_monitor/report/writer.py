"""write_report: the day's Markdown, JSON and PNG chart, from the database alone."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from trading_monitor.db.connection import TradingDB
from trading_monitor.domain.jsonable import jsonable
from trading_monitor.report import chart, data, figures, markdown


@dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    json: Path
    chart: Path



def _write(path: Path, text: str) -> None:
    """Written beside, then renamed: a reader (a mail, a web server) never sees half a file."""
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)


def write_report(db: TradingDB, day: date, out_dir: str | os.PathLike[str]) -> ReportFiles:
    """The report of New York day `day` in `out_dir` (created if missing):
    report-DAY.md, report-DAY.json and report-DAY.png. Reads only the database."""
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"report-{day.isoformat()}"
    files = ReportFiles(out / f"{stem}.md", out / f"{stem}.json", out / f"{stem}.png")
    result = figures.compute(data.load(db, day))
    part = files.chart.with_name(files.chart.name + ".part")
    chart.draw(result, part)
    os.replace(part, files.chart)
    _write(files.json, json.dumps(result, default=jsonable, indent=2) + "\n")
    _write(files.markdown, markdown.render(result, files.chart.name))
    return files
