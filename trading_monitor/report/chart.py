"""The report's chart, one PNG: the equity curve over the daily realised P&L bars, and each
closed trade's R multiple.

matplotlib's object API on the Agg canvas: no pyplot, no `matplotlib.use`, no rcParams
changed, so drawing here leaves the process's matplotlib state as it found it; matplotlib
is imported on the first chart, not when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GREEN, RED, BLUE = "#2e7d32", "#c62828", "#1565c0"


def _equity(ax: Any, days: list[dict[str, Any]]) -> None:
    labels = [d["day"].strftime("%m-%d") for d in days]
    pnl = [float(d["realised_pnl"] or 0) for d in days]
    ax.bar(labels, pnl, color=[GREEN if v >= 0 else RED for v in pnl], alpha=0.6,
           label="realised P&L")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("daily realised P&L")
    marked = [(label, float(d["last_equity"])) for label, d in zip(labels, days, strict=True)
              if d["last_equity"] is not None]
    if marked:
        curve = ax.twinx()
        curve.plot([m[0] for m in marked], [m[1] for m in marked], color=BLUE, marker="o",
                   label="equity (last mark)")
        curve.set_ylabel("equity")
        curve.ticklabel_format(axis="y", style="plain", useOffset=False)
    if not days:
        ax.text(0.5, 0.5, "no trading days recorded yet", ha="center", va="center",
                transform=ax.transAxes)
    ax.set_title("Equity and daily realised P&L")
    ax.tick_params(axis="x", labelrotation=45)


def _r_multiples(ax: Any, rs: list[dict[str, Any]], day_label: str) -> None:
    labels = [f"#{r['trade_id']} {r['symbol']}" for r in rs]
    values = [float(r["r_multiple"]) for r in rs]
    ax.bar(labels, values, color=[GREEN if v >= 0 else RED for v in values])
    ax.axhline(0, color="grey", linewidth=0.8)
    for level in (-1, 1):
        ax.axhline(level, color="grey", linewidth=0.5, linestyle="--")
    ax.set_ylabel("R multiple")
    ax.set_title(f"R multiple of each closed trade (30 days to {day_label})")
    if not rs:
        ax.text(0.5, 0.5, "no closed trade", ha="center", va="center", transform=ax.transAxes)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)


def draw(figures: dict[str, Any], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1)
    history = figures["history"]
    _equity(top, history["days"])
    _r_multiples(bottom, history["r_multiples"], figures["day"].isoformat())
    fig.suptitle(f"trading-monitor {figures['day'].isoformat()}")
    fig.savefig(path, format="png")
    return path
