"""Named SQL from a package's queries.sql (procrastinate style): `-- name: NAME` starts each query.

`db/queries.sql` holds the shared queries (`TradingDB.named`); a package with its own statements
keeps them in a queries.sql beside its modules and reads them through `Queries(__name__)`.
Nothing is read at import: a file is read on its first use, then kept.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

DB_PACKAGE = "trading_monitor.db"


@cache
def _load(package: str = DB_PACKAGE) -> dict[str, str]:
    text = (resources.files(package) / "queries.sql").read_text(encoding="utf-8")
    queries: dict[str, str] = {}
    name: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("-- name:"):
            if name:
                queries[name] = "\n".join(lines).strip()
            name, lines = line.split(":", 1)[1].strip(), []
        elif name is not None and not line.startswith("--"):
            lines.append(line)  # a comment line is the reader's (it may name a %(parameter)s)
    if name:
        queries[name] = "\n".join(lines).strip()
    return queries


def named_query(name: str, package: str = DB_PACKAGE) -> str:
    try:
        return _load(package)[name]
    except KeyError:
        where = package.replace(".", "/")
        raise KeyError(f"no query named {name!r} in {where}/queries.sql") from None


class Queries:
    """The queries.sql of the package a module lives in: `QUERIES = Queries(__name__)`, then
    `db.execute_query(QUERIES["name"], params)`. The file moves with its package."""

    def __init__(self, module: str) -> None:
        self.package = module.rpartition(".")[0]

    def __getitem__(self, name: str) -> str:
        return named_query(name, self.package)

    def names(self) -> set[str]:
        return set(_load(self.package))
