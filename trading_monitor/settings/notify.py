"""The cockpit's settings (trading_monitor/cockpit/): per-event messages to NOTIFY_URLS, each
kind switched on or off, and the dead-man's switch HEARTBEAT_URL. `Settings` (settings/config.py)
inherits them; docs/configuration.md, "Messages and the dead-man's switch", lists them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from trading_monitor.settings.choices import bool_word

# Each message kind and the setting that switches it (cockpit/messages.py renders them).
NOTIFY_KIND_SETTINGS = {
    "decision_rejected": "notify_decision_rejected",
    "entry_filled": "notify_entry_filled",
    "stop_moved": "notify_stop_moved",
    "exit_filled": "notify_exit_filled",
    "halt": "notify_halt",
    "kill_switch": "notify_kill_switch",
    "daemon": "notify_daemon",
}


class NotifySettings(BaseModel):
    # apprise URLs, comma-separated, apart from ALERT_URLS and REPORT_URLS (credentials inside)
    notify_urls: SecretStr | None = Field(None, alias="NOTIFY_URLS")
    notify_decision_rejected: bool = Field(True, alias="NOTIFY_DECISION_REJECTED")
    notify_entry_filled: bool = Field(True, alias="NOTIFY_ENTRY_FILLED")
    notify_stop_moved: bool = Field(True, alias="NOTIFY_STOP_MOVED")
    notify_exit_filled: bool = Field(True, alias="NOTIFY_EXIT_FILLED")
    notify_halt: bool = Field(True, alias="NOTIFY_HALT")
    notify_kill_switch: bool = Field(True, alias="NOTIFY_KILL_SWITCH")
    notify_daemon: bool = Field(True, alias="NOTIFY_DAEMON")
    # The leader's sender: how often it looks at the outbox, and attempts per message.
    notify_send_seconds: float = Field(10.0, alias="NOTIFY_SEND_SECONDS", gt=0, le=3600)
    notify_max_attempts: int = Field(5, alias="NOTIFY_MAX_ATTEMPTS", ge=1, le=50)
    # healthchecks.io-style dead-man's switch: pinged every HEARTBEAT_PING_SECONDS.
    heartbeat_url: SecretStr | None = Field(None, alias="HEARTBEAT_URL")
    heartbeat_ping_seconds: float = Field(60.0, alias="HEARTBEAT_PING_SECONDS", ge=5,
                                          le=86400)

    @field_validator(*NOTIFY_KIND_SETTINGS.values(), mode="before")
    @classmethod
    def _parse_notify_bool(cls, value: Any) -> Any:
        return bool_word(value)

    @field_validator("heartbeat_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        # Never echoed: the check's UUID in the URL is what lets anyone ping it.
        if isinstance(value, str) and value.strip():
            url = value.strip()
            if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
                raise ValueError("must be an http:// or https:// URL without spaces")
            return url.rstrip("/")
        return value

    def notify_kind_on(self, kind: str) -> bool:
        return bool(getattr(self, NOTIFY_KIND_SETTINGS[kind]))
