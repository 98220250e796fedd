"""``python -m bot export-ledger``: the ledger as CSV, whole or for one server."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bot.cli.export import HEADER
from bot.services.credits import MemberContext
from bot.storage.db import Database
from tests.backends import Backend
from tests.cli.conftest import Cli, write_config
from tests.support import ManualClock, build_core, request


async def fill(path: Path | str) -> None:
    db = await Database.open(path)
    try:
        core = build_core(db, ManualClock())
        accepted = await core.jobs.accept(request(7))  # refill 500, hold 80
        await core.jobs.cancel(1000, accepted.job.id, 7)  # release 80
        await core.credits.grant(1000, MemberContext(7), 25, actor_id=1, reason='=HYPERLINK("http://x")')
        await core.credits.grant(2000, MemberContext(8), 10, actor_id=1, reason="other server")
    finally:
        await db.close()


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_export_writes_every_entry_with_its_effect(tmp_path: Path, cli: Cli, backend: Backend) -> None:
    """On both backends: ``[database] url`` makes export-ledger read PostgreSQL."""
    target = backend.target(tmp_path)
    config = str(write_config(tmp_path, f'url = "{target}"\n' if backend.postgres else ""))
    await fill(target)
    result = await cli("export-ledger", "--config", config)
    assert result.code == 0, result.err
    assert result.out.splitlines()[0] == ",".join(HEADER)
    rows = parse(result.out)
    kinds = [(row["guild_id"], row["member_id"], row["kind"], row["amount"]) for row in rows]
    assert kinds == [
        ("1000", "7", "refill", "500"),
        ("1000", "7", "hold", "80"),
        ("1000", "7", "release", "80"),
        ("1000", "7", "grant", "25"),
        ("2000", "8", "refill", "500"),
        ("2000", "8", "grant", "10"),
    ]
    member7 = [row for row in rows if row["member_id"] == "7"]
    assert sum(int(row["available_change"]) for row in member7) == 525
    assert sum(int(row["held_change"]) for row in member7) == 0
    assert rows[1]["job_id"] and rows[1]["created_at"].endswith("Z")
    assert rows[0]["period"] == "2026-W47"
    # A reason that a spreadsheet would run as a formula is written as text.
    assert rows[3]["reason"] == '\'=HYPERLINK("http://x")'


async def test_export_one_server_to_a_file(tmp_path: Path, cli: Cli) -> None:
    config = str(write_config(tmp_path))
    await fill(tmp_path / "wanbot.sqlite3")
    target = tmp_path / "ledger.csv"
    result = await cli("export-ledger", "--guild", "2000", str(target), "--config", config)
    assert result.code == 0 and "Wrote 2 ledger entries" in result.err
    rows = parse(target.read_text(encoding="utf-8"))
    assert [row["kind"] for row in rows] == ["refill", "grant"] and {row["guild_id"] for row in rows} == {"2000"}


async def test_export_never_creates_a_database(tmp_path: Path, cli: Cli) -> None:
    result = await cli("export-ledger", "--config", str(write_config(tmp_path)))
    assert result.code == 1 and "no database file at" in result.err
    assert not (tmp_path / "wanbot.sqlite3").exists()
