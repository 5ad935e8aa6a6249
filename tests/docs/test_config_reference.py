"""docs/configuration.md names every setting of trading_monitor/settings/config.py with its real
default."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from trading_monitor.settings.config import Settings, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_ROW = re.compile(r"^\|\s*`(?P<name>[A-Z][A-Z0-9_]*)`\s*\|\s*(?P<default>[^|]*?)\s*\|")


def documented() -> dict[str, str]:
    """Variable -> its Default cell, from every reference table of the doc."""
    rows: dict[str, str] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            assert match["name"] not in rows, f"{match['name']} is documented twice"
            rows[match["name"]] = match["default"].strip()
    return rows


def aliases() -> dict[str, Any]:
    return {f.alias: f.default for f in Settings.model_fields.values() if f.alias}


def as_written(default: Any) -> str:
    """A default the way the doc writes it."""
    if default is None:
        return "unset"
    if isinstance(default, SecretStr):
        return "empty" if not default.get_secret_value() else "`***`"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, Enum):
        return f"`{default.value}`"
    if isinstance(default, time):
        return f"`{default:%H:%M}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    if isinstance(default, Decimal):
        return f"`{default.normalize():f}`"
    return f"`{default}`"


def test_every_setting_is_documented() -> None:
    missing = sorted(set(aliases()) - set(documented()))
    assert not missing, f"docs/configuration.md lacks {', '.join(missing)}"


def test_the_doc_names_no_setting_the_code_lacks() -> None:
    unknown = sorted(set(documented()) - set(aliases()))
    assert not unknown, f"docs/configuration.md documents unknown settings {unknown}"


def test_every_documented_default_is_the_code_default() -> None:
    rows = documented()
    wrong = {name: (rows[name], as_written(default)) for name, default in aliases().items()
             if name in rows and rows[name] != as_written(default)}
    assert not wrong, f"doc default vs code default: {wrong}"


def test_an_empty_environment_gives_those_defaults() -> None:
    # The defaults in the doc are what a user gets with no .env at all.
    settings = load_settings({})
    for field_name, field in Settings.model_fields.items():
        assert as_written(getattr(settings, field_name)) == as_written(field.default)
