"""Log lines never carry secrets: configured ones, Authorization headers or callback tokens."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from bot.cli.logs import JsonFormatter, RedactingFormatter
from tests.cli.conftest import write_config
from tests.providers.conftest import closed_port_url

KEY = "sk-live-abcdef0123456789"
TOKEN = "qK3x9_Zr-Tp0aLmN4vB7cD2eF5gH8iJ1"


def record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("bot.test", logging.INFO, __file__, 1, message, args, info)


def test_secrets_are_masked_in_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter(secrets=[KEY, ""])
    body = f'{{"callback_url": "https://bot.example.org/callbacks/wan26ai/{TOKEN}", "prompt": "cat"}}'
    line = formatter.format(record("wan26ai POST /api/generate request body=%s key=%s", body, KEY))
    assert KEY not in line and TOKEN not in line
    assert "/callbacks/wan26ai/***" in line and '"prompt": "cat"' in line
    try:
        raise RuntimeError(f"boom with Authorization: Bearer {KEY}x and {KEY}")
    except RuntimeError as error:
        line = formatter.format(record("failed", exc=error))
    assert KEY not in line and "Bearer ***" in line and "RuntimeError" in line


def test_ordinary_paths_are_left_alone() -> None:
    line = RedactingFormatter().format(record("listening: /healthz, /metrics, /callbacks/apimall"))
    assert line.endswith("listening: /healthz, /metrics, /callbacks/apimall")


def test_json_lines_carry_the_fields_with_secrets_masked() -> None:
    formatter = JsonFormatter(secrets=[KEY])
    try:
        raise RuntimeError(f"refused {KEY}")
    except RuntimeError as error:
        line = formatter.format(record("key %s was refused", KEY, exc=error))
    entry = json.loads(line)
    assert entry["level"] == "INFO" and entry["logger"] == "bot.test"
    assert entry["message"] == "key *** was refused" and "RuntimeError: refused ***" in entry["exception"]
    assert KEY not in line and "\n" not in line


async def test_the_demo_transcript_has_no_voice_or_intent_warnings(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "demo",
        cwd=str(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    text = out.decode()
    assert process.returncode == 0, text
    assert "Demo finished" in text
    for noise in ("PyNaCl", "davey", "Guilds intent"):
        assert noise not in text


async def test_run_logs_json_when_asked(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[logging]\nformat = "json"\nlevel = "warning"\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "--config",
        str(config),
        cwd=str(tmp_path),
        env={
            "PATH": os.environ.get("PATH", ""),
            "WANBOT_DISCORD_API_BASE": closed_port_url(),
            "WAN_API_KEY": "sk-k",
            "DISCORD_TOKEN": "x",
        },
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = err.decode().splitlines()
    logged = [json.loads(line) for line in lines if line.startswith("{")]
    # level = "warning": the ignored key is said, the INFO lines (provider, database) are not.
    assert [entry["level"] for entry in logged] == ["WARNING"]
    assert "API key is set but ignored" in logged[0]["message"]
    assert lines[-1].startswith("Cannot reach Discord")
