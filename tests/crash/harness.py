"""Start the bot, SIGKILL it at a random moment, restart it, check everything; repeat.

    report = run_session(SessionConfig(root=tmp_path, kind="apimall", kills=4))
    assert report.violations == []

Every ``drain_every`` kills (and at the end) the bot runs once without members acting and
without being killed until no job is open, then the liveness checks run too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.crash import checks
from tests.crash.common import Layout, VirtualClock

REPO = Path(__file__).resolve().parents[2]
DAY = 86_400.0


@dataclass
class SessionConfig:
    root: Path
    kind: str = "apimall"
    kills: int = 4
    seed: int = 0
    speed: float = 20.0  # virtual seconds per real second
    life: tuple[float, float] = (0.6, 4.0)  # real seconds from readiness to SIGKILL
    startup_kill_share: float = 0.2  # kills timed from spawn instead, to catch a start-up half done
    drain_every: int = 0  # 0: drain only at the end
    drain_timeout: float = 60.0  # real seconds a drain may take before open jobs count as stuck
    mean_gap: float = 6.0  # virtual seconds between member actions
    # Credits per member per day: members run short now and then ("not enough credits" is a
    # refusal worth crossing too) but not for good, or later kills would find an idle bot.
    allowance: int = 8000
    refill_after: float = 8.0  # real seconds into the session when the daily refill boundary passes
    render: tuple[float, float] = (20.0, 90.0)  # virtual render seconds


@dataclass
class SessionReport:
    kills: int = 0
    kills_before_ready: int = 0
    drains: int = 0
    wall_seconds: float = 0.0
    jobs: Counter[str] = field(default_factory=Counter)
    moments: Counter[str] = field(default_factory=Counter)  # kills that caught each situation
    creates: int = 0
    creates_resent: int = 0
    tasks: int = 0
    results_posted: int = 0
    posted_twice: int = 0  # jobs with more than one result in the channel
    tasks_twice: int = 0  # jobs that made more than one provider task
    duplicate_notices: int = 0
    bot_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


class Session:
    def __init__(self, config: SessionConfig) -> None:
        self.config = config
        self.layout = Layout(config.root)
        self.rng = random.Random(config.seed)
        self.started = time.time()
        # Start so the daily refill boundary passes ``refill_after`` real seconds in.
        self.offset = DAY - config.refill_after * config.speed
        self.clock = VirtualClock(self.started, config.speed, self.offset)
        self.report = SessionReport()
        self.runs = 0
        self.provider: subprocess.Popen[bytes] | None = None
        self.provider_url = ""

    # --- processes ---------------------------------------------------------------------------

    def _common(self) -> list[str]:
        return ["--dir", str(self.layout.root), "--started", repr(self.started), "--speed", repr(self.config.speed)]

    def start_provider(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.crash.provider_process", "--kind", self.config.kind, *self._common()]
        command += ["--seed", str(self.config.seed), "--render-min", str(self.config.render[0])]
        command += ["--render-max", str(self.config.render[1])]
        with (self.layout.root / "provider.log").open("ab") as log:
            # Only our own interpreter and modules, with arguments built here.
            self.provider = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self.layout.provider_port.exists():
            if self.provider.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the fake provider did not start; see {self.layout.root / 'provider.log'}")
            time.sleep(0.05)
        self.provider_url = f"http://127.0.0.1:{self.layout.provider_port.read_text().strip()}"

    def stop_provider(self) -> None:
        if self.provider is not None and self.provider.poll() is None:
            self.provider.send_signal(signal.SIGTERM)
            try:
                self.provider.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.provider.kill()
                self.provider.wait()

    def spawn_bot(self, *, drive: bool) -> subprocess.Popen[bytes]:
        self.runs += 1
        command = [sys.executable, "-m", "tests.crash.bot_process", *self._common()]
        command += ["--offset", repr(self.offset), "--run", str(self.runs), "--seed", str(self.config.seed)]
        command += ["--provider-url", self.provider_url, "--kind", self.config.kind]
        command += ["--mean-gap", str(self.config.mean_gap), "--allowance", str(self.config.allowance)]
        command += ["--drive"] if drive else []
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with (self.layout.root / "bot-stdio.log").open("ab") as log:
            return subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait()

    def provider_state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.provider_url}/_harness/state", timeout=10) as answer:  # noqa: S310 - loopback
            state: dict[str, Any] = json.load(answer)
        return state

    # --- rounds ------------------------------------------------------------------------------

    def one_kill(self) -> None:
        process = self.spawn_bot(drive=True)
        try:
            # A life counts from readiness, so a loaded machine (slow start-ups) still gives every
            # run time to accept and move jobs; a share of kills still lands during start-up.
            if self.rng.random() >= self.config.startup_kill_share:
                self._wait_ready(self.runs, process)
            time.sleep(self.rng.uniform(*self.config.life))
            if process.poll() is not None:
                self.report.violations.append(f"bot run {self.runs} exited by itself with code {process.returncode}")
        finally:
            self.kill(process)
        self.report.kills += 1
        if not self._was_ready(self.runs):
            self.report.kills_before_ready += 1
        snapshot = self.snapshot()
        moment = checks.KillMoment.of(snapshot)
        for state, count in moment.open_by_state.items():
            self.report.moments[f"open job {state}"] += count > 0
        self.report.moments["a create on the wire"] += moment.create_on_the_wire > 0
        self.report.moments["posted, not yet recorded"] += moment.posted_not_recorded > 0
        self.report.moments["member told, not yet recorded"] += moment.told_not_recorded > 0
        self.check(snapshot, f"after kill {self.report.kills}")

    def drain(self) -> None:
        """Run without members and without kills until nothing is open, then check liveness."""
        process = self.spawn_bot(drive=False)
        deadline = time.monotonic() + self.config.drain_timeout
        try:
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if process.poll() is not None:
                    self.report.violations.append(f"drain run {self.runs} exited with code {process.returncode}")
                    break
                snapshot = self.snapshot()
                if not checks.liveness_violations(snapshot):
                    break
        finally:
            self.kill(process)
        self.report.drains += 1
        snapshot = self.snapshot()
        where = f"after drain {self.report.drains}"
        self.check(snapshot, where)
        self.report.violations += [f"{where}: {problem}" for problem in checks.liveness_violations(snapshot)]

    def snapshot(self) -> checks.Snapshot:
        return checks.read_snapshot(self.layout.database, self.layout.discord_log)

    def check(self, snapshot: checks.Snapshot, where: str) -> None:
        problems = checks.safety_violations(snapshot, self.provider_state(), self.config.kind)
        self.report.violations += [f"{where}: {problem}" for problem in problems]

    def _wait_ready(self, run: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self._was_ready(run) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _was_ready(self, run: int) -> bool:
        log = self.layout.bot_log(run)
        return log.exists() and f"run {run} ready" in log.read_text(errors="replace")

    def finish(self) -> SessionReport:
        snapshot = self.snapshot()
        provider = self.provider_state()
        report = self.report
        report.jobs = Counter(job["state"] for job in snapshot.jobs)
        report.tasks = len(provider["tasks"])
        report.creates = len(provider["creates"])
        key = "idempotency_key" if self.config.kind == "apimall" else "prompt"
        per_job = Counter(str(create[key]) for create in provider["creates"])
        report.creates_resent = sum(count - 1 for count in per_job.values())
        tasks_per_job = Counter(str(task[key]) for task in provider["tasks"])
        report.tasks_twice = sum(1 for count in tasks_per_job.values() if count > 1)
        report.results_posted = sum(len(ids) for ids in snapshot.results.values())
        report.posted_twice = sum(1 for ids in snapshot.results.values() if len(ids) > 1)
        report.duplicate_notices = sum(count - 1 for count in snapshot.notices.values() if count > 1)
        if self.layout.errors.exists():
            report.bot_errors = [chunk for chunk in self.layout.errors.read_text().split("\nrun ") if chunk.strip()]
        report.wall_seconds = time.time() - self.started
        return report


def run_session(config: SessionConfig) -> SessionReport:
    session = Session(config)
    session.start_provider()
    try:
        for kill in range(1, config.kills + 1):
            session.one_kill()
            if config.drain_every and kill % config.drain_every == 0 and kill != config.kills:
                session.drain()
        session.drain()
        return session.finish()
    finally:
        session.stop_provider()
