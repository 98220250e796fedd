"""A short multi-process crash run: three REST-only bot processes on one PostgreSQL, one of them
SIGKILLed at random moments (the long run is ``python -m bench.crash_multi``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.storage.db import bundled_migrations
from tests.backends import server_dsn
from tests.crash.multi import MultiConfig, run_multi

# Job leases (issue 12 item 3) make one process at a time work a job, and make max_in_flight
# global. Without them this run shows the double work it exists to catch: measured on this
# branch, three processes render more than max_in_flight at once and race each other's creates.
_HAS_LEASES = any(re.search(r"\blease", migration.sql) for migration in bundled_migrations("postgresql"))


@pytest.mark.skipif(server_dsn() is None, reason="needs a PostgreSQL server (scripts/test.sh starts one)")
@pytest.mark.skipif(
    not _HAS_LEASES,
    reason="needs job leases (issue 12 item 3, branch runner: lease owner/expiry/fencing claimed with "
    "FOR UPDATE SKIP LOCKED, global max_in_flight); without them several processes do double work",
)
@pytest.mark.parametrize("kind", ["wan26ai", "apimall"])
def test_three_processes_killed_at_random_lose_and_double_nothing(tmp_path: Path, kind: str) -> None:
    dsn = server_dsn()
    assert dsn is not None
    report = run_multi(MultiConfig(root=tmp_path / "session", dsn=dsn, kind=kind, kills=4, seed=11))
    assert report.violations == []
    assert report.kills == 4
    # The run did something worth checking: jobs were accepted, every one ended, leases were seen.
    assert sum(report.jobs.values()) >= 4
    assert set(report.jobs) <= {"delivered", "failed", "refused", "timed_out", "cancelled"}
    assert report.leases_checked
