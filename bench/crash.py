"""The long crash run: at least 200 SIGKILLs of the real bot process at random moments.

    python -m bench.crash [--kills 200] [--kind apimall|wan26ai] [--seed 1]

The harness and its checks are the ones the test suite runs briefly (``tests/crash``): after
every kill the ledger must balance for every member and agree with every job, no job may
have two results in the channel, and no job may have made two provider tasks; after every
drain (every 25 kills and at the end) every job must have ended delivered or released with
the member told. Takes about 3 s of wall time per kill.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench.common import Row, emit
from tests.crash.harness import SessionConfig, SessionReport, run_session


def rows_for(report: SessionReport, kind: str) -> list[Row]:
    ended = ", ".join(f"{count} {state}" for state, count in sorted(report.jobs.items()))
    moments = ", ".join(f"{label}: {count}" for label, count in sorted(report.moments.items()) if count)
    return [
        Row(
            "crash",
            f"SIGKILLs of the bot process ({kind})",
            f"{report.kills}",
            "≥ 200",
            f"{report.kills_before_ready} during start-up; {report.drains} drains; {report.wall_seconds / 60:.0f} min",
        ),
        Row("crash", "jobs accepted, all ended", str(sum(report.jobs.values())), "", ended),
        Row("crash", "kills that caught …", "", "", moments),
        Row(
            "crash",
            "provider tasks made twice for one job",
            str(report.tasks_twice),
            "0",
            f"{report.tasks} tasks from {report.creates} creates; {report.creates_resent} creates were resends "
            "(same key or prompt) after an error or a lost answer",
        ),
        Row(
            "crash",
            "results posted twice",
            str(report.posted_twice),
            "0",
            f"{report.results_posted} results posted; end notices sent twice: {report.duplicate_notices}",
        ),
        Row(
            "crash",
            "invariant violations (ledger, posts, tasks, liveness)",
            str(len(report.violations)),
            "0",
            "; ".join(report.violations[:2]) or "checked after every kill and every drain",
        ),
        Row("crash", "unexpected errors in bot tasks", str(len(report.bot_errors)), "0", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--kind", choices=("apimall", "wan26ai"), default="apimall")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="keep the session files (logs, database) in this folder")
    args, _ = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="bench-crash-", dir=Path.cwd()) as folder:
        root = args.keep or Path(folder) / "session"
        config = SessionConfig(
            root=root, kind=args.kind, kills=args.kills, seed=args.seed, drain_every=25, refill_after=60
        )
        report = run_session(config)
    emit(rows_for(report, args.kind))


if __name__ == "__main__":
    main()
