"""`python -m trading_monitor.paper_exchange`: serve the paper exchange until Ctrl-C/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from decimal import Decimal

from trading_monitor.paper_exchange.demo_prices import DEMO_PRICES
from trading_monitor.paper_exchange.server import PaperExchange


def _moment(text: str) -> datetime:
    # Python 3.10's fromisoformat does not take a trailing "Z".
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trading-monitor paper-exchange",
        description="Serve an Alpaca-compatible paper exchange (trading API, market data, "
                    "trade_updates stream and control API) on one port (default 8765). "
                    "Without --scenario, "
                    + ", ".join(f"{s} {p}" for s, p in DEMO_PRICES.items())
                    + " start at the examples' prices, as in --test-mode; every symbol walks.",
        epilog="exit codes: 0 stopped (Ctrl-C or SIGTERM); 2 bad arguments")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8765,
                        help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--seed", type=int, default=1, help="seed for prices, ids and faults")
    parser.add_argument("--scenario", help="JSON or CSV file of timestamped prices")
    parser.add_argument("--clock", choices=("realtime", "accelerated", "stepped"), default=None,
                        help="realtime (default), accelerated (needs --speed; implied by it) or "
                             "stepped: time moves only through /control/advance and "
                             "/control/clock")
    parser.add_argument("--speed", type=float, default=None,
                        help="run the clock accelerated by this factor (default: realtime)")
    parser.add_argument("--start", type=_moment, default=None,
                        help="simulated start time, ISO 8601 with offset (default: now)")
    parser.add_argument("--rate-limit", type=int, default=200,
                        help="requests per minute before 429 (0 disables; default 200)")
    parser.add_argument("--api-key", help="only accept this key id (default: any)")
    parser.add_argument("--secret-key", help="only accept this secret (default: any)")
    return parser


async def _serve(exchange: PaperExchange) -> None:
    runner = await exchange.serve()
    print(f"paper exchange serving {exchange.url}", flush=True)
    print(f"trade_updates stream at {exchange.stream_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.speed is not None and args.speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return 2
    mode = args.clock or ("accelerated" if args.speed is not None else "realtime")
    if (mode == "accelerated") != (args.speed is not None):
        print("--speed goes with --clock accelerated (and only with it)", file=sys.stderr)
        return 2
    if args.start is not None and args.start.tzinfo is None:
        print("--start needs a UTC offset, e.g. 2026-11-20T09:30:00-05:00", file=sys.stderr)
        return 2
    exchange = PaperExchange(
        seed=args.seed, start=args.start,
        clock_mode=mode,
        speed=args.speed or 1.0, scenario=args.scenario,
        rate_limit_per_min=args.rate_limit or None,
        api_key=args.api_key, secret_key=args.secret_key, host=args.host, port=args.port,
    )
    if args.scenario is None:  # the examples' symbols start where --test-mode's do
        for symbol, price in DEMO_PRICES.items():
            exchange.venue.market.set_start_price(symbol, Decimal(price))
    asyncio.run(_serve(exchange))
    print("paper exchange stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
