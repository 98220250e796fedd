"""A short crash run: the real bot process SIGKILLed at random moments (the long run is bench/crash.py)."""

from __future__ import annotations

from pathlib import Path

from tests.crash.harness import SessionConfig, run_session


def test_random_sigkills_lose_no_job_credit_or_post(tmp_path: Path) -> None:
    report = run_session(SessionConfig(root=tmp_path / "session", kind="apimall", kills=4, seed=7))
    assert report.violations == []
    assert report.bot_errors == []
    assert report.kills == 4 and report.drains == 1
    # The run did something worth checking: jobs were accepted and every one of them ended.
    assert sum(report.jobs.values()) >= 3
    assert set(report.jobs) <= {"delivered", "failed", "refused", "timed_out", "cancelled"}
