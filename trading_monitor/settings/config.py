"""Settings: read `.env` (python-dotenv), then the process environment, into one validated object.

Every variable name below is a contract used by docs, deployment files and outside scripts.
Validation collects every problem at once so a trader fixes the file in one pass.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import time
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict, Field, SecretStr, ValidationError, field_validator

from trading_monitor.exceptions import ConfigError
from trading_monitor.settings.choices import (
    ClockSource,
    DataFeedName,
    ExternalProtection,
    ProtectionMode,
    StopFailureAction,
    bool_word,
    cross_field_problems,
)
from trading_monitor.settings.env_file import check_env_file_permissions
from trading_monitor.settings.market import MarketEventSettings
from trading_monitor.settings.notify import NotifySettings

__all__ = ["ClockSource", "DataFeedName", "ExternalProtection", "ProtectionMode", "Settings",
           "StopFailureAction", "describe_connection", "has_test_database", "load_settings"]



class Settings(NotifySettings, MarketEventSettings):
    """Typed settings; field aliases are the environment variable names (the cockpit's in
    settings/notify.py)."""

    # allow_inf_nan=False: "inf" (or a 400-digit number) is no timeout or interval; say so.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore",
                              allow_inf_nan=False)

    database_url: SecretStr | None = Field(None, alias="DATABASE_URL")
    postgres_host: str = Field("localhost", alias="POSTGRES_HOST")
    postgres_port: int = Field(5432, alias="POSTGRES_PORT", ge=1, le=65535)
    postgres_db: str = Field("nocodb", alias="POSTGRES_DB")
    postgres_user: str = Field("postgres", alias="POSTGRES_USER")
    postgres_password: SecretStr = Field(SecretStr(""), alias="POSTGRES_PASSWORD")
    test_database_url: SecretStr | None = Field(None, alias="TEST_DATABASE_URL")
    test_postgres_host: str | None = Field(None, alias="TEST_POSTGRES_HOST")
    test_postgres_port: int = Field(5432, alias="TEST_POSTGRES_PORT", ge=1, le=65535)
    test_postgres_db: str = Field("trading_monitor_test", alias="TEST_POSTGRES_DB")
    test_postgres_user: str = Field("postgres", alias="TEST_POSTGRES_USER")
    test_postgres_password: SecretStr = Field(SecretStr(""), alias="TEST_POSTGRES_PASSWORD")
    # Every job connection's statement and lock timeouts, seconds (0: off); db/session.py.
    db_statement_timeout_seconds: float = Field(30.0, alias="DB_STATEMENT_TIMEOUT_SECONDS", ge=0)
    db_lock_timeout_seconds: float = Field(10.0, alias="DB_LOCK_TIMEOUT_SECONDS", ge=0)
    # A daemon job running longer is stuck: health CRITICAL, an ALERT, no systemd WATCHDOG=1.
    job_deadline_seconds: float = Field(300.0, alias="JOB_DEADLINE_SECONDS", gt=0)

    alpaca_api_key: SecretStr | None = Field(None, alias="ALPACA_API_KEY")
    alpaca_secret_key: SecretStr | None = Field(None, alias="ALPACA_SECRET_KEY")
    alpaca_paper: bool = Field(True, alias="ALPACA_PAPER")
    alpaca_live_trading_confirmed: bool = Field(False, alias="ALPACA_LIVE_TRADING_CONFIRMED")
    alpaca_base_url: str | None = Field(None, alias="ALPACA_BASE_URL")
    alpaca_data_url: str | None = Field(None, alias="ALPACA_DATA_URL")
    alpaca_stream_url: str | None = Field(None, alias="ALPACA_STREAM_URL")

    broker_timeout_seconds: float = Field(10.0, alias="BROKER_TIMEOUT_SECONDS", gt=0, le=120)
    broker_requests_per_minute: int = Field(190, alias="BROKER_REQUESTS_PER_MINUTE", ge=1)
    broker_read_retries: int = Field(3, alias="BROKER_READ_RETRIES", ge=0, le=10)

    executor_time: time = Field(time(9, 45), alias="EXECUTOR_TIME")
    entry_expiry_time: time = Field(time(16, 5), alias="ENTRY_EXPIRY_TIME")
    order_monitor_interval_minutes: int = Field(5, alias="ORDER_MONITOR_INTERVAL_MINUTES", ge=1)
    position_monitor_interval_minutes: int = Field(10, alias="POSITION_MONITOR_INTERVAL_MINUTES",
                                                   ge=1)
    order_monitor_evening_time: time = Field(time(18, 0), alias="ORDER_MONITOR_EVENING_TIME")
    position_monitor_evening_time: time = Field(time(18, 15),
                                                alias="POSITION_MONITOR_EVENING_TIME")

    protection_mode: ProtectionMode = Field(ProtectionMode.BRACKET, alias="PROTECTION_MODE")
    max_notional_per_order: Decimal | None = Field(
        Decimal("25000"), alias="MAX_NOTIONAL_PER_ORDER", gt=0)
    max_open_positions: int | None = Field(10, alias="MAX_OPEN_POSITIONS", ge=0)
    max_total_exposure: Decimal | None = Field(Decimal("100000"), alias="MAX_TOTAL_EXPOSURE", gt=0)
    max_daily_loss: Decimal | None = Field(Decimal("2000"), alias="MAX_DAILY_LOSS", gt=0)
    check_buying_power: bool = Field(True, alias="CHECK_BUYING_POWER")
    check_price_consistency: bool = Field(True, alias="CHECK_PRICE_CONSISTENCY")
    block_duplicate_entry: bool = Field(True, alias="BLOCK_DUPLICATE_ENTRY")
    block_same_day_reentry: bool = Field(True, alias="BLOCK_SAME_DAY_REENTRY")
    reject_day_orders_when_closed: bool = Field(False, alias="REJECT_DAY_ORDERS_WHEN_CLOSED")
    trading_halted: bool = Field(False, alias="TRADING_HALTED")
    max_price_deviation_pct: Decimal | None = Field(
        Decimal("10"), alias="MAX_PRICE_DEVIATION_PCT", gt=0)
    max_decision_age_hours: Decimal | None = Field(
        Decimal("24"), alias="MAX_DECISION_AGE_HOURS", gt=0)
    max_unsent_order_minutes: Decimal | None = Field(
        Decimal("30"), alias="MAX_UNSENT_ORDER_MINUTES", gt=0)
    # "broker" follows a paper exchange's simulated time; Alpaca's time is the machine's.
    clock_source: ClockSource = Field(ClockSource.SYSTEM, alias="CLOCK_SOURCE")
    max_spread_pct: Decimal | None = Field(None, alias="MAX_SPREAD_PCT", gt=0)
    min_daily_volume: Decimal | None = Field(None, alias="MIN_DAILY_VOLUME", gt=0)
    alpaca_data_feed: DataFeedName = Field(DataFeedName.IEX, alias="ALPACA_DATA_FEED")
    cancel_settle_seconds: float = Field(3.0, alias="CANCEL_SETTLE_SECONDS", ge=0, le=60)
    max_deferrals: int = Field(20, alias="MAX_DEFERRALS", ge=1)
    executor_lock_wait_seconds: float = Field(60.0, alias="EXECUTOR_LOCK_WAIT_SECONDS", ge=0)

    partial_entry_timeout_seconds: float = Field(120.0, alias="PARTIAL_ENTRY_TIMEOUT_SECONDS",
                                                 ge=0)
    stop_failure_action: StopFailureAction = Field(StopFailureAction.FLATTEN,
                                                   alias="STOP_FAILURE_ACTION")
    eod_flatten: bool = Field(True, alias="EOD_FLATTEN")
    eod_flatten_minutes: int = Field(10, alias="EOD_FLATTEN_MINUTES", ge=0, le=120)
    flatten_untracked: bool = Field(False, alias="FLATTEN_UNTRACKED")
    orphan_grace_minutes: float = Field(5.0, alias="ORPHAN_GRACE_MINUTES", ge=0)
    hand_cancel_grace_seconds: float = Field(60.0, alias="HAND_CANCEL_GRACE_SECONDS", ge=0)
    gtc_renew_days: int = Field(5, alias="GTC_RENEW_DAYS", ge=0, le=80)
    order_polling: bool = Field(True, alias="ORDER_POLLING")
    # Tests and the demo: every job every N seconds instead of its schedule (never in production).
    daemon_fast_seconds: float | None = Field(None, alias="DAEMON_FAST_SECONDS", gt=0)
    # Decisions, the kill switch and exit approvals wake the leader at once (LISTEN/NOTIFY);
    # the 2-minute executor poll stays the backstop unless switched off (tests only).
    decision_notify: bool = Field(True, alias="DECISION_NOTIFY")
    decision_polling: bool = Field(True, alias="DECISION_POLLING")
    notify_min_gap_seconds: float = Field(5.0, alias="NOTIFY_MIN_GAP_SECONDS", ge=0, le=120)

    max_price_age_minutes: float = Field(15.0, alias="MAX_PRICE_AGE_MINUTES", gt=0)
    trailing_steps: str = Field("8:0,15:8,25:15", alias="TRAILING_STEPS")
    reconcile_grace_seconds: float = Field(60.0, alias="RECONCILE_GRACE_SECONDS", ge=0)
    external_position_protection: ExternalProtection = Field(
        ExternalProtection.STOP, alias="EXTERNAL_POSITION_PROTECTION")
    emergency_stop_pct: float = Field(5.0, alias="EMERGENCY_STOP_PCT", gt=0, lt=100)
    # Fail-closed reconciliation (issue 27): this many of our trades gone at the broker at
    # once with no fill to explain them, or this share of our open positions (never one
    # trade alone), is an incident: nothing is booked, entries halt, an operator decides.
    reconcile_incident_trades: int = Field(2, alias="RECONCILE_INCIDENT_TRADES", ge=2)
    reconcile_incident_pct: Decimal = Field(Decimal(30), alias="RECONCILE_INCIDENT_PCT", gt=0,
                                            le=100)
    max_drawdown_pct: Decimal | None = Field(None, alias="MAX_DRAWDOWN_PCT", gt=0, lt=100)

    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: str = Field("text", alias="LOG_FORMAT", pattern="^(text|json)$")
    alert_urls: SecretStr | None = Field(None, alias="ALERT_URLS")  # apprise URLs, comma-separated
    alert_min_interval_minutes: float = Field(15.0, alias="ALERT_MIN_INTERVAL_MINUTES", ge=0)
    # The daily report (docs/report.md): written after the close, sent to apprise URLs.
    report_time: time = Field(time(16, 30), alias="REPORT_TIME")
    report_dir: str = Field("~/trading-monitor-reports", alias="REPORT_DIR", min_length=1)
    report_urls: SecretStr | None = Field(None, alias="REPORT_URLS")  # credentials inside
    # The cockpit on the daemon (trading_monitor/web, docs/operations.md): page, /healthz,
    # /metrics. Port 0: off. Actions need the token; no token: read-only, loopback only.
    cockpit_bind: str = Field("127.0.0.1", alias="COCKPIT_BIND", min_length=1)
    cockpit_port: int = Field(8787, alias="COCKPIT_PORT", ge=0, le=65535)
    cockpit_token: SecretStr | None = Field(None, alias="COCKPIT_TOKEN", min_length=16)

    @field_validator(
        "alpaca_paper", "alpaca_live_trading_confirmed", "check_buying_power",
        "check_price_consistency", "block_duplicate_entry", "block_same_day_reentry",
        "reject_day_orders_when_closed", "trading_halted", "eod_flatten", "flatten_untracked",
        "order_polling", "decision_notify", "decision_polling", mode="before",
    )
    @classmethod
    def _parse_bool(cls, value: Any) -> Any:
        return bool_word(value)

    @field_validator(
        "max_notional_per_order", "max_open_positions", "max_total_exposure", "max_daily_loss",
        "max_decision_age_hours", "max_unsent_order_minutes", "max_price_deviation_pct",
        "max_spread_pct", "min_daily_volume", "max_drawdown_pct", "cockpit_token",
        mode="before",
    )
    @classmethod
    def _off_means_none(cls, value: Any) -> Any:
        # "off" disables a limit; an empty value keeps it unset rather than failing.
        if isinstance(value, str) and value.strip().lower() in {"", "off", "none"}:
            return None
        return value

    @field_validator("trailing_steps")
    @classmethod
    def _steps(cls, value: str) -> str:
        from trading_monitor.domain.trailing import parse_steps

        try:
            parse_steps(value)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"must be gain:stop pairs like 8:0,15:8,25:15 ({exc})") from None
        return value

    @field_validator("alpaca_api_key", "alpaca_secret_key", mode="before")
    @classmethod
    def _printable_key(cls, value: Any) -> Any:
        # A key with a stray newline or a space would only fail deep inside the HTTP client,
        # looking like a network fault; say what is wrong instead (never echoing the key).
        if isinstance(value, str) and value.strip():
            key = value.strip()
            if not key.isascii() or not key.isprintable() or " " in key:
                raise ValueError("must be printable ASCII without spaces (check for a pasted "
                                 "quote, space or line break)")
            return key
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def is_live(self) -> bool:
        return not self.alpaca_paper

    def __repr_args__(self) -> Any:
        # SecretStr already masks itself; the URL fields may carry passwords inside plain text.
        return [(k, v) for k, v in super().__repr_args__() if k and "url" not in k]


def read_environment(env_file: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """The process environment over the values of `.env` (the environment wins)."""
    from dotenv import dotenv_values

    values: dict[str, str] = {}
    if env_file is not None and os.path.exists(env_file):
        check_env_file_permissions(env_file)
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def load_settings(
    env: Mapping[str, str] | None = None, *, need_broker: bool = False
) -> Settings:
    """Validate settings; raise ConfigError naming every bad variable, never echoing values."""
    source = dict(read_environment() if env is None else env)
    known = {field.alias for field in Settings.model_fields.values() if field.alias}
    data = {k: v for k, v in source.items() if k in known}
    problems: list[str] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            variable = str(error["loc"][0]) if error["loc"] else "settings"
            problems.append(f"{variable}: {error['msg']}")
    problems.extend(cross_field_problems(data, need_broker=need_broker))
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return settings


def has_test_database(settings: Settings) -> bool:
    """Whether the user configured a test database (else --test-mode embeds a throwaway one)."""
    return bool(settings.test_database_url or settings.test_postgres_host)


def describe_connection(params: Mapping[str, Any]) -> str:
    """A log-safe description of where we connect: never the password."""
    return f"{params.get('user')}@{params.get('host')}:{params.get('port')}/{params.get('dbname')}"
