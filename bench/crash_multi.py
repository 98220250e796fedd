"""The long multi-process crash run: three REST-only bot processes on one PostgreSQL, at least
100 SIGKILLs at random moments, the fake provider and the fake Discord REST in processes of
their own (``tests/crash/multi.py``).

    WANBOT_TEST_PG_DSN=postgresql://... python -m bench.crash_multi [--kills 100] [--kind wan26ai]

Checked after every kill: the ledger balances and agrees with every job, no job posted twice,
no job made two provider tasks, the provider never rendered more than max_in_flight at once
(across all processes), no job holds two live leases; at the end every job has ended.
Needs job leases (issue 12 item 3); without them it reports the double work it finds.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import Row, emit
from tests.backends import server_dsn
from tests.crash.multi import MultiConfig, MultiReport, run_multi


def rows_for(report: MultiReport, kind: str, processes: int) -> list[Row]:
    ended = ", ".join(f"{count} {state}" for state, count in sorted(report.jobs.items()))
    return [
        Row(
            "crash-multi",
            f"SIGKILLs among {processes} bot processes on PostgreSQL ({kind})",
            str(report.kills),
            "≥ 100",
            f"{report.wall_seconds / 60:.0f} min",
        ),
        Row("crash-multi", "jobs accepted, all ended", str(sum(report.jobs.values())), "", ended),
        Row("crash-multi", "provider tasks / creates", f"{report.tasks} / {report.creates}", "", ""),
        Row(
            "crash-multi",
            "most renders at once of jobs (all processes)",
            str(report.max_rendering),
            "≤ 4",
            f"{report.max_rendering_with_orphans} with {report.orphan_tasks} orphaned tasks (a create answer lost"
            " at a kill on a provider without idempotency keys)",
        ),
        Row("crash-multi", "leases checked", "yes" if report.leases_checked else "no (no leases)", "yes", ""),
        Row(
            "crash-multi",
            "invariant violations (ledger, posts, tasks, in-flight, leases, liveness)",
            str(len(report.violations)),
            "0",
            "; ".join(report.violations[:3]) or "checked after every kill and at the end",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--kind", choices=("apimall", "wan26ai"), default="wan26ai")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain-timeout", type=float, default=90.0, help="real seconds the final drain may take")
    parser.add_argument("--keep", type=Path, help="keep the session files (logs, Discord log) in this folder")
    args, _ = parser.parse_known_args()
    dsn = server_dsn()
    if dsn is None:
        raise SystemExit("set WANBOT_TEST_PG_DSN to a PostgreSQL server (scripts/_postgres.sh starts a throwaway one)")
    with tempfile.TemporaryDirectory(prefix="bench-crash-multi-", dir=Path.cwd()) as folder:
        root = args.keep or Path(folder) / "session"
        config = MultiConfig(
            root=root,
            dsn=dsn,
            kind=args.kind,
            kills=args.kills,
            seed=args.seed,
            processes=args.processes,
            drain_timeout=args.drain_timeout,
        )
        report = run_multi(config)
    emit(rows_for(report, args.kind, args.processes))


if __name__ == "__main__":
    main()
