"""The command line as an operator meets it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )


def test_run_without_a_token_explains_how_to_get_one(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = run("run", env=env)
    assert result.returncode == 2
    assert "No Discord token" in result.stderr and "python -m bot demo" in result.stderr


def test_a_bad_config_fails_with_one_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[provider]\nkind = "openai"\n', encoding="utf-8")
    result = run("run", "--config", str(config), env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert "provider.kind: must be one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[credits]\ndefault_allowance = -1\n", encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for argv in (("--config", str(config), "run"), ("run", "--config", str(config))):
        result = run(*argv, env=env)
        assert result.returncode == 2 and "credits.default_allowance" in result.stderr
