"""The documentation's shell blocks run as written (docs/docs-convention.md).

Every fenced block in README.md and docs/**/*.md whose language is bash, sh, shell or
console must say `run` or `skip` after the language. Each `run` block is executed with
`bash -euo pipefail`, from the repository root, the venv's bin first on PATH, a temporary
HOME, DATABASE_URL naming a fresh migrated database and ALPACA_* pointing at a running paper
exchange (paper keys, ALPACA_PAPER=true). It must exit 0 within 60 seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import exchange_env
from trading_monitor.paper_exchange import PaperExchange
from trading_monitor.settings.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
MARKS = {"run", "skip"}
TIMEOUT_SECONDS = 60
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    line: int  # of the opening fence, 1-based
    language: str
    flags: tuple[str, ...]
    text: str

    @property
    def name(self) -> str:
        return f"{self.path}:{self.line}"


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def fenced_blocks(path: Path, root: Path = ROOT) -> list[Block]:
    """Every fenced block of a Markdown file, indented ones (inside list items) too."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        words = opening["info"].strip().split()
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            closing = _FENCE.match(lines[j])
            if (closing and closing["fence"][0] == fence[0]
                    and len(closing["fence"]) >= len(fence) and not closing["info"].strip()):
                break
            body.append(lines[j])
            j += 1
        text = textwrap.dedent("\n".join(body)) if not indent else "\n".join(
            line[len(indent):] if line.startswith(indent) else line.lstrip() for line in body)
        blocks.append(Block(str(path.relative_to(root)), i + 1,
                            words[0].lower() if words else "", tuple(words[1:]), text + "\n"))
        i = j + 1
    return blocks


def shell_blocks(root: Path = ROOT) -> list[Block]:
    return [b for path in doc_files(root) if path.exists() for b in fenced_blocks(path, root)
            if b.language in SHELL_LANGUAGES]


def _param(block: Block) -> Any:
    return pytest.param(block, id=block.name)


ALL_SHELL = shell_blocks()
RUN_BLOCKS = [b for b in ALL_SHELL if "run" in b.flags and "skip" not in b.flags]


@pytest.mark.parametrize("block", [_param(b) for b in ALL_SHELL])
def test_every_shell_block_says_run_or_skip(block: Block) -> None:
    marks = MARKS & set(block.flags)
    assert len(marks) == 1, (
        f"{block.name}: a ```{block.language} block needs `run` or `skip` after the language "
        f"(```{block.language} run / ```{block.language} skip), see docs/docs-convention.md")


def database_url(params: dict[str, Any]) -> str:
    user = quote(str(params.get("user") or ""), safe="")
    password = str(params.get("password") or "")
    auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@"
    host = str(params.get("host") or "localhost")
    if host.startswith("/"):  # a socket directory
        return f"postgresql://{auth}/{params['dbname']}?host={quote(host)}&port={params['port']}"
    return f"postgresql://{auth}{host}:{params['port']}/{params['dbname']}"


def block_environment(db_params: dict[str, Any], ex: PaperExchange, home: Path) -> dict[str, str]:
    settings_names = {f.alias for f in Settings.model_fields.values() if f.alias}
    env = {k: v for k, v in os.environ.items()
           if k not in settings_names and not k.startswith(("ALPACA_", "POSTGRES_", "PG"))}
    env.update(exchange_env(ex))
    env.update({"DATABASE_URL": database_url(db_params), "ALPACA_PAPER": "true",
                "HOME": str(home), "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
                "PYTHONUNBUFFERED": "1"})
    return env


def run_block(block: Block, env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    script = workdir / "block.sh"
    script.write_text(block.text, encoding="utf-8")
    proc = subprocess.Popen(["bash", "-euo", "pipefail", str(script)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the block's whole process group, nothing else
        out, _ = proc.communicate()
        pytest.fail(f"{block.name} did not finish within {TIMEOUT_SECONDS} s:\n{out[-3000:]}")
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever the block left running in the background
    except ProcessLookupError:
        pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


@pytest.mark.parametrize("block", [_param(b) for b in RUN_BLOCKS])
def test_run_block_exits_0(block: Block, db_params: dict[str, Any], exchange: PaperExchange,
                           tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run_block(block, block_environment(db_params, exchange, home), tmp_path)
    assert result.returncode == 0, (
        f"{block.name} exited {result.returncode}:\n{block.text}\n--- output ---\n"
        f"{result.stdout[-4000:]}")


def test_the_parser_reads_marks_indented_blocks_and_other_languages(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "sample.md"
    doc.parent.mkdir()
    (tmp_path / "README.md").write_text("```bash run\necho hi\n```\n\n```\nplain\n```\n")
    doc.write_text("1. step\n\n   ```console skip\n   $ systemctl start x\n   ```\n\n"
                   "````sql\nSELECT 1;\n```\nstill sql\n````\n\n```sh\nls\n```\n")
    blocks = shell_blocks(tmp_path)
    assert [(b.name, b.language, b.flags, b.text) for b in blocks] == [
        ("README.md:1", "bash", ("run",), "echo hi\n"),
        ("docs/sample.md:3", "console", ("skip",), "$ systemctl start x\n"),
        ("docs/sample.md:13", "sh", (), "ls\n")]
    sql = [b for b in fenced_blocks(doc, tmp_path) if b.language == "sql"]
    assert sql[0].text == "SELECT 1;\n```\nstill sql\n"


_ALERT_CALL = re.compile(r"\blog\.(?P<level>\w+)\(\s*\"ALERT (?P<message>[^\"]*)\"")
# alerts.alert(log, "kind", subject, "message", ...): always logged at error.
_ALERT_HELPER = re.compile(r"\balert\(\s*log,\s*\"(?P<kind>\w+)\",\s*[^\n]+?,\s*"
                           r"\"(?P<message>[^\"]*)\"")


def alert_calls(root: Path = ROOT) -> list[tuple[str, str, str]]:
    """(file, log level, message) of every `log.<level>("ALERT …")` and every
    `alert(log, kind, subject, "…")` in the package."""
    found = []
    for path in sorted((root / "trading_monitor").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in _ALERT_CALL.finditer(text):
            found.append((str(path.relative_to(root)), match["level"], match["message"]))
        for match in _ALERT_HELPER.finditer(text):
            found.append((str(path.relative_to(root)), "error", match["message"]))
    return found


def test_every_alert_is_sent_and_explained_in_the_runbook() -> None:
    # An alert is sent only when logged at ERROR or above (trading_monitor/ledger/alerts.py), and
    # the runbook (docs/operations.md, "What each alert means") must say what each one means.
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    calls = alert_calls()
    assert len(calls) >= 10
    for path, level, message in calls:
        assert level in ("error", "exception", "critical"), (
            f"{path}: ALERT {message!r} is logged at {level}, so it is never sent")
        words = max((part.strip() for part in re.split(r"%[sdr]", message)), key=len)
        assert words in runbook, f"docs/operations.md does not explain {path}'s ALERT {message!r}"


# -- the examples against both paper exchanges ----------------------------------------------
# The README's and docs/n8n.md's examples (their `run` blocks, and n8n.md's NEW_TRADE insert)
# must be accepted by `trading-monitor paper-exchange` as a user starts it and by the one
# --test-mode starts: both start the examples' symbols at examples.DEMO_PRICES.
EXAMPLE_DOCS = ("README.md", "docs/n8n.md")
EXAMPLE_BLOCKS = [b for b in RUN_BLOCKS if b.path in EXAMPLE_DOCS]


@dataclass(frozen=True)
class Served:
    url: str
    stream_url: str


@pytest.fixture(params=["standalone", "test-mode"])
def example_exchange(request: pytest.FixtureRequest) -> Iterator[Served]:
    from tests.conftest import MARKET_OPEN

    if request.param == "test-mode":
        from trading_monitor.testmode.environment import DEMO_START
        from trading_monitor.testmode.examples import DEMO_PRICES

        with PaperExchange(seed=1, start=DEMO_START, clock_mode="stepped").start() as ex:
            ex.control.set_prices(DEMO_PRICES)  # as trading_monitor/testmode/environment.py does
            yield Served(ex.url, ex.stream_url)
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "trading_monitor.cli", "paper-exchange", "--port", "0",
         "--clock", "stepped", "--start", MARKET_OPEN.isoformat(), "--rate-limit", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # "paper exchange serving URL"
        url = first.split()[-1]
        assert url.startswith("http://"), first
        stream = proc.stdout.readline().split()[-1]
        yield Served(url, stream)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _refused(output: str) -> list[str]:
    """Decisions REJECTED for any reason but the malformed example's (a price too far from
    the market, MAX_PRICE_DEVIATION_PCT, was the one seen)."""
    return [line for line in output.splitlines() if "REJECTED" in line
            and "malformed" not in line]


@pytest.mark.parametrize("block", [_param(b) for b in EXAMPLE_BLOCKS])
def test_the_examples_are_accepted_by_both_exchanges(block: Block, example_exchange: Served,
                                                      db_params: dict[str, Any],
                                                      tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = block_environment(db_params, example_exchange, home)  # type: ignore[arg-type]
    result = run_block(block, env, tmp_path)
    assert result.returncode == 0, f"{block.name}:\n{result.stdout[-4000:]}"
    assert _refused(result.stdout) == [], result.stdout[-4000:]


def test_the_n8n_new_trade_is_accepted_by_both_exchanges(example_exchange: Served,
                                                         db_params: dict[str, Any],
                                                         tmp_path: Path) -> None:
    [insert] = [b.text for b in fenced_blocks(ROOT / "docs" / "n8n.md")
                if b.language == "sql" and b.flags == ("new_trade",)]
    (tmp_path / "new_trade.sql").write_text(insert, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = block_environment(db_params, example_exchange, home)  # type: ignore[arg-type]
    script = Block("docs/n8n.md", 0, "bash", ("run",),
                   f"trading-monitor psql -v ON_ERROR_STOP=1 -At -f {tmp_path}/new_trade.sql\n"
                   "trading-monitor execute\n")
    result = run_block(script, env, tmp_path)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "EXECUTED  submitted buy 10 AAPL limit 180.00" in result.stdout, result.stdout
