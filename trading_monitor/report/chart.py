"""The report's chart, one PNG: the daily P&L bars (realised, labelled, and today's
unrealised) under the equity's change since the period's start, and each closed trade's R
multiple.

matplotlib's object API on the Agg canvas: no pyplot, no `matplotlib.use`, no rcParams
changed, so drawing here leaves the process's matplotlib state as it found it; matplotlib
is imported on the first chart, not when this module is imported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

GREEN, RED, BLUE = "#2e7d32", "#c62828", "#1565c0"


def _dollars(value: float, _pos: object = None) -> str:
    return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"


def _equity(ax: Any, days: list[dict[str, Any]], unrealised: float) -> None:
    """Daily realised P&L as labelled bars, today's unrealised P&L beside them, and the
    equity as its change since the period's first start: a -0.14% day looks like one."""
    from matplotlib.ticker import FuncFormatter

    if not days:
        ax.text(0.5, 0.5, "no trading days recorded yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_title("Daily P&L and equity")
        return
    labels = [d["day"].strftime("%a %m-%d") for d in days]
    pnl = [float(d["realised_pnl"] or 0) for d in days]
    bars = ax.bar(labels, pnl, color=[GREEN if v >= 0 else RED for v in pnl], alpha=0.7,
                  label="realised P&L (day)")
    ax.bar_label(bars, labels=[f"{v:+,.2f}" if v else "" for v in pnl], fontsize=8, padding=2)
    if unrealised:
        open_bar = ax.bar([labels[-1]], [unrealised], width=0.3, align="edge",
                          color=GREEN if unrealised >= 0 else RED, alpha=0.3, hatch="//",
                          label="unrealised P&L (open, now)")
        ax.bar_label(open_bar, labels=[f"{unrealised:+,.2f}"], fontsize=8, padding=2)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_ylabel("P&L, equity change")
    ax.yaxis.set_major_formatter(FuncFormatter(_dollars))
    ax.margins(y=0.3)
    start = next((float(d["start_equity"]) for d in days if d["start_equity"] is not None),
                 None)
    marked = [(label, float(d["last_equity"])) for label, d in zip(labels, days, strict=True)
              if d["last_equity"] is not None]
    if start and marked:
        # Dollars on the same axis as the bars: the day's move and the period's add up.
        change = [m[1] - start for m in marked]
        ax.plot([m[0] for m in marked], change, color=BLUE, marker="o", zorder=3,
                label=f"equity change since {days[0]['day']:%m-%d} (start {start:,.2f})")
        ax.annotate(f"equity {change[-1]:+,.2f} ({change[-1] / start * 100:+.2f}%)",
                    (marked[-1][0], change[-1]), textcoords="offset points", xytext=(-12, 10),
                    ha="right", fontsize=8, color=BLUE)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Daily P&L and equity")
    ax.tick_params(axis="x", labelrotation=30)


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
    _equity(top, history["days"], float(figures["pnl"]["unrealised"] or 0))
    _r_multiples(bottom, history["r_multiples"], figures["day"].isoformat())
    fig.suptitle(f"trading-monitor {figures['day'].isoformat()}")
    fig.savefig(path, format="png")
    return path
