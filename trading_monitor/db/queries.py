"""Named SQL from queries.sql (procrastinate style): `-- name: NAME` starts each query."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _load() -> dict[str, str]:
    text = (resources.files("trading_monitor.db") / "queries.sql").read_text(encoding="utf-8")
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("-- name:"):
            if name:
                queries[name] = "\n".join(lines).strip()
            name, lines = line.split(":", 1)[1].strip(), []
        elif name is not None:
            lines.append(line)
    if name:
        queries[name] = "\n".join(lines).strip()
    return queries


def named_query(name: str) -> str:
    try:
        return _load()[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in queries.sql") from None
