"""Log lines never carry secrets: configured ones, Authorization headers or callback tokens."""

from __future__ import annotations

import logging

from bot.cli.logs import RedactingFormatter

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
