"""Market events (issue 21): halts, exits that do not fill, resting stops. `Settings`
(settings/config.py)
inherits these; docs/configuration.md lists them, docs/position-monitor.md ("Halts") says what
each halt source does."""

from __future__ import annotations

from pydantic import BaseModel, Field

# statuses: the market-data stream's `statuses` channel only (a halt and its lift as the
#   exchange announces them); prints: "no trade printed for HALT_SUSPECT_MINUTES" only;
# both (default): the channel where the feed offers it, and the print rule as the backstop
#   for a status missed while the stream was down or a feed that refuses the channel.
HALT_SOURCES = ("statuses", "prints", "both")


class MarketEventSettings(BaseModel):
    halt_source: str = Field("both", alias="HALT_SOURCE", pattern="^(statuses|prints|both)$")
    # The market-data websocket; unset: Alpaca's, wss://stream.data.alpaca.markets/v2/<feed>
    # (ALPACA_DATA_FEED). A paper exchange serves it at ws://host:port/v2/iex.
    alpaca_market_stream_url: str | None = Field(None, alias="ALPACA_MARKET_STREAM_URL")
    # How often the halt stream re-reads the symbols we hold or work in (resubscribing when
    # the set changes), seconds.
    halt_stream_refresh_seconds: float = Field(30.0, alias="HALT_STREAM_REFRESH_SECONDS", gt=0)
    # An exit of ours still working this long: "exit working since …" and an ALERT .
    exit_working_alert_seconds: float = Field(120.0, alias="EXIT_WORKING_ALERT_SECONDS", gt=0)
    # A stop-limit that triggered and rests unfilled (a gap through it): close | alert.
    resting_stop_action: str = Field("close", alias="RESTING_STOP_ACTION",
                                     pattern="^(close|alert)$")
    # A held symbol with no trade printed this long in the session looks halted (0: off).
    halt_suspect_minutes: float = Field(5.0, alias="HALT_SUSPECT_MINUTES", ge=0)
