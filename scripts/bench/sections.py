"""The numbered sections of docs/performance.md, one writer per measurement, and the table
formatting they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .costs import Compared
from .lab import ALPACA_PER_MIN, OUR_PER_MIN, Lab

if TYPE_CHECKING:
    from .report import Results

Add = Callable[[str], None]

def _ratio(ours: float, seed: float, digits: int = 3) -> str:
    if seed == 0:
        return "—" if ours == 0 else "∞"
    return f"{ours / seed:.{digits}g}"


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def _cost_row(c: Compared, label: str) -> str:
    o, s = c.ours, c.seed
    return (f"| {c.n:,} | {label} | {o.requests} | {s.requests:,} | "
            f"{_ratio(o.requests, s.requests)} | {o.round_trips:,} | {s.round_trips:,} | "
            f"{_ratio(o.round_trips, s.round_trips)} | {_s(o.seconds)} | {_s(s.seconds)} | "
            f"{_ratio(o.seconds, s.seconds)} |")


COST_HEAD = ("| N | case | broker requests | seed | ratio | DB round trips | seed | ratio | "
             "wall s | seed | ratio |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")



def cost_sections(r: Results, add: Add) -> None:
    """1. The order-monitor cycle and 2. the position-monitor cycle, beside the seed's pass."""
    if r.monitor:
        add("## 1. Order-monitor cycle with N open orders\n")
        add("N resting bracket entries (limits below the market). *Nothing changed*: a cycle "
            "after the book is settled. *1% filled*: one price move fills max(1, N/100) "
            "entries (1 at N = 10 and 100), then one cycle; the seed's pass sees the same "
            "orders change.\n")
        add(COST_HEAD)
        for c in r.monitor:
            add(_cost_row(c, c.case))
        add("")
        for c in r.monitor:
            if c.note:
                add(f"- N = {c.n:,}, {c.case}: {c.note}; our requests: "
                    + ", ".join(f"`{k}` {v}" for k, v in sorted(c.ours.detail.items())))
        add("")
    if r.positions:
        add("## 2. Position-monitor cycle with N positions\n")
        add("N one-share staged positions, each with its OCO stop and target; a cycle with "
            "nothing to do (reconciliation passes, marks written, no trailing step reached). "
            "Ours includes the order monitor's sync (fill feed and open orders) that every "
            "position-monitor cycle starts with; the seed's is its price poll alone.\n")
        add(COST_HEAD)
        for c in r.positions:
            add(_cost_row(c, "positions"))
        add("")
        for c in r.positions:
            add(f"- N = {c.n:,}: " + ", ".join(f"`{k}` {v}" for k, v in
                                              sorted(c.ours.detail.items())))
        if len(r.positions) > 1:
            lo, hi = r.positions[0], r.positions[-1]
            slope = (hi.ours.round_trips - lo.ours.round_trips) / (hi.n - lo.n)
            add(f"- Our database round trips grow with N: about {slope:.1f} statements per "
                f"position per cycle (each position's marks are written by itself); the broker "
                f"requests do not.")
        add("")


def executor_sections(r: Results, lab: Lab, add: Add) -> None:
    """3. The executor under Alpaca's 200/min, and without any rate limit."""
    if r.executor:
        scale = lab.time_scale
        add("## 3. The executor under Alpaca's 200/min\n")
        add(f"N NEW_TRADE decisions (resting bracket entries) in one executor cycle. Time is "
            f"scaled by {scale:g} so the run stays short: the exchange's limiter is set to "
            f"{ALPACA_PER_MIN * scale:g}/min (200/min × {scale:g}) and ours "
            f"(`BROKER_REQUESTS_PER_MINUTE`, default 190) to {OUR_PER_MIN * scale:g}/min; the "
            f"50 ms latency is not scaled (it allows ~17 requests/s, above the scaled "
            f"{ALPACA_PER_MIN * scale / 60:g}/s, so the limit, not the latency, is what binds). "
            f"Both buckets are emptied first (through our own limiter, so both by the same "
            f"requests): the figure is the sustained rate of a busy session, not the first "
            f"minute's burst. *Share* = requests per minute over the whole cycle ÷ the limit; "
            f"our limiter allows at most 95% of it. The seed's plan is about the monitors' "
            f"polling; for the executor the comparison is the same job with **our limiter "
            f"switched off**, the exchange's 429s and rate-limit headers its only brake.\n")
        add("| N | requests | wall s | share of 200/min | seed | ratio | 429s | seed | "
            "executed | seed |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for ours, seed in r.executor:
            if seed is None:
                add(f"| {ours.n:,} | {ours.requests:,} | {_s(ours.seconds)} | "
                    f"{ours.share(scale):.1%} | not run | | {ours.too_many} | | "
                    f"{ours.executed:,} | |")
                continue
            add(f"| {ours.n:,} | {ours.requests:,} | {_s(ours.seconds)} | "
                f"{ours.share(scale):.1%} | {seed.share(scale):.1%} | "
                f"{_ratio(ours.share(scale), seed.share(scale))} | {ours.too_many} | "
                f"{seed.too_many} | {ours.executed:,} | {seed.executed:,} "
                f"({seed.deferred:,} deferred) |")
        add("")
        add("Without our limiter a 429 (or an answer saying the bucket is empty) pauses every "
            "request until the exchange's `X-Ratelimit-Reset`, the time to refill the whole "
            "bucket; the decisions that meet the pause are deferred to the next cycle.\n")
    if r.capacity:
        cap = r.capacity
        add("### The executor without any rate limit\n")
        add(f"{cap['decisions']} NEW_TRADE decisions over {cap['symbols']} symbols, "
            f"{cap['latency_ms']:g} ms per request, no limiter anywhere (what "
            f"`scripts/benchmark_executor.py` used to measure):\n")
        add("| Figure | Value |\n|---|---|")
        add(f"| wall time | {cap['seconds']} s ({cap['decisions_per_second']} decisions/s) |")
        add(f"| broker requests | {cap['broker_requests']}: {cap['order_posts']} order POSTs, "
            f"{cap['fixed_reads_per_cycle']} reads per cycle, "
            f"{cap['asset_lookups (one per distinct symbol)']} asset look-ups |")
        add(f"| requests per NEW_TRADE decision | {cap['requests_per_new_trade']} |")
        add(f"| requests in a cycle with nothing to do | "
            f"{cap['requests_in_a_cycle_with_nothing_to_do']} |")
        add("")


def window_section(r: Results, add: Add) -> None:
    """4. The unprotected window."""
    if r.windows:
        add("## 4. The unprotected window: entry fill to a stop accepted at the broker\n")
        add("- *staged, stream*: the `OrderStreamListener` running; wall time from the price "
            "move that fills one resting entry (sent to the exchange) until our journal's "
            "`protected_at` is set, which happens once the exchange has accepted the OCO stop. "
            "Fills one at a time.")
        add("- *staged, polling only*: the wait for the next order-monitor cycle (every 5 "
            "minutes; a fill lands uniformly in the interval: p50 150 s, p99 297 s, max "
            "300 s) plus the cycle that protects it, measured (fill, then one cycle, wall "
            "time).")
        add("- *seed*: it polls every 5 minutes too and finds a fill during its pass over "
            "every pending order, so its window is the same wait plus up to one whole pass "
            "(measured in section 1; its POST of the stop is not counted, in its favour).")
        add("- *bracket, partial fill*: 10-share entries filled 5 at first; Alpaca holds a "
            "bracket's legs until the entry is complete, so after "
            "`PARTIAL_ENTRY_TIMEOUT_SECONDS` (120) a cycle cancels the rest and protects the "
            "filled shares. Run on the exchange's stepped clock with the order monitor every "
            "5 minutes, the fills at offsets spread evenly over the interval; the figure is "
            "`trade_journal.unprotected_seconds` in exchange time. The book size does not "
            "enter into it. A bracket entry that fills completely is protected from its "
            "first share (its stop leg is live at once): 0 s.\n")
        add("The ratio is our p99 over the seed's p99 at the same N (the bracket rows: at the "
            "largest N). Figures in exchange time are schedule-bound, so the latency hardly "
            "enters into them.\n")
        add("| N | mode | samples | p50 | p99 | max | unit | p99 ÷ seed's p99 |\n"
            "|---:|---|---:|---:|---:|---:|---|---:|")
        seeds = {w.n: w.figures()[1] for w in r.windows if w.mode.startswith("seed")}
        big_seed = seeds[max(seeds)] if seeds else None
        for w in r.windows:
            p50, p99, top = w.figures()
            ref = seeds.get(w.n, big_seed)
            ratio = "1" if w.mode.startswith("seed") else (
                _ratio(p99, ref) if ref else "—")
            count = "model" if w.mode.startswith("seed") else str(len(w.samples))
            add(f"| {w.n:,} | {w.mode} | {count} | {_s(p50)} | {_s(p99)} | {_s(top)} | "
                f"{w.unit} | {ratio} |" if w.n else
                f"| — | {w.mode} | {count} | {_s(p50)} | {_s(p99)} | {_s(top)} | {w.unit} | "
                f"{ratio} |")
        add("")
        for w in r.windows:
            if w.note:
                add(f"- {w.mode}{f' (N = {w.n:,})' if w.n else ''}: {w.note}.")
        add("")


def daemon_section(r: Results, lab: Lab, add: Add) -> None:
    """5. The daemon over the simulated trading days."""
    if r.daemon:
        d = r.daemon
        samples = d["samples"]
        cycles = samples[-1]["cycles"]
        add(f"## 5. The daemon over {len(samples)} simulated trading days\n")
        add(f"The real `Daemon` (election, the trading-day guard on the broker's calendar, "
            f"heartbeat, the stream listener on the leader) in a process of its own, at the "
            f"default schedule: every job's fire times from its triggers, in order, the "
            f"exchange's clock set to each before the job runs (prices random-walk as the "
            f"clock moves), {d['latency_ms']:g} ms per request. **{cycles:,} job cycles ran** "
            f"({d['fires']:,} fire times; the guard skips those outside the session): "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(d["ran"].items()))
            + f". {lab.decisions_per_day} entries written before each open (SWING and "
            f"DAYTRADE, resting and marketable); {d['closed']} trades closed, {d['open']} "
            f"open at the end. RSS (`VmRSS`) and open descriptors (`/proc/self/fd`) after "
            f"each day's last job.\n")
        add("| day | cycles so far | RSS MiB | vs day 2 | open FDs | trades | broker requests "
            "so far | seed's plan | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        ref = samples[1]["rss_kib"] if len(samples) > 1 else samples[0]["rss_kib"]
        for x in samples:
            add(f"| {x['day']} | {x['cycles']:,} | {x['rss_kib'] / 1024:.1f} | "
                f"{x['rss_kib'] / ref - 1:+.1%} | {x['fds']} | {x['trades']} | "
                f"{x['requests']:,} | {x['seed_requests']:,} | "
                f"{_ratio(x['requests'], x['seed_requests'])} |")
        add("")
        add("The seed's column is what its plan would have sent on this book: one request per "
            "pending order at each order-monitor cycle and one per position at each "
            "position-monitor cycle, counted from our rows at each fire, not sent; ours "
            "counts every request, the executor's included. RSS and descriptors have no "
            "baseline: the seed's plan is a polling pattern, not a process.\n")
