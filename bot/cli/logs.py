"""Log setup for every command: one line per event, secrets masked in everything written.

The adapters already keep the API key out of what they log; this is the second line of
defence, applied to the final text of every record (message, arguments and traceback alike):
the configured secrets, Authorization headers, and the per-job token in callback URLs (a
``--debug`` provider body log shows the ``callback_url`` sent to wan26ai).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bot.providers.http import REDACTED, redact

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CALLBACK_TOKEN = re.compile(r"(/callbacks/[A-Za-z0-9_-]+/)[A-Za-z0-9_-]{8,}")
_BEARER = re.compile(r"(Bearer\s+)[^\s'\",]+", re.IGNORECASE)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    text = redact(text, secrets)
    text = _CALLBACK_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactingFormatter(logging.Formatter):
    def __init__(self, fmt: str = FORMAT, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record), self._secrets)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the masking runs on the finished line, so it covers every field."""

    def __init__(self, *, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secret for secret in secrets if secret)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        line = json.dumps(entry, ensure_ascii=False)
        # Masking the JSON text: a secret is masked wherever it sits, and REDACTED needs no escaping.
        return mask(line, self._secrets)


# Warnings discord.py prints that say nothing to this bot's operator: it never joins voice, and
# SimCord's internal probe client (demo, tests) has no Guilds intent.
_NOISE = (
    "PyNaCl is not installed",
    "davey is not installed",
    "Guilds intent seems to be disabled",
)


def _not_noise(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(_NOISE))


def quiet_discord_noise() -> None:
    for name in ("discord.client", "discord.state"):
        logger = logging.getLogger(name)
        if _not_noise not in logger.filters:
            logger.addFilter(_not_noise)


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    debug: bool, *, secrets: Iterable[str] = (), level: str = "info", fmt: str = "text"
) -> Callable[[], None]:
    """Send every log record to stderr through the masking formatter; returns an undo function.

    A handler of our own rather than ``basicConfig``: it works even when something (a test
    runner) already put handlers on the root logger, and it can be taken off again.
    ``--debug`` wins over ``level``.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter = (
        JsonFormatter(secrets=secrets) if fmt == "json" else RedactingFormatter(secrets=secrets)
    )
    handler.setFormatter(formatter)
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else LEVELS[level])
    quiet = {
        # discord.py's gateway chatter is noise at INFO for an operator; aiosqlite logs every call at DEBUG.
        "discord.gateway": logging.DEBUG if debug else logging.WARNING,
        "aiosqlite": logging.INFO,
    }
    previous = {name: logging.getLogger(name).level for name in quiet}
    for name, quiet_level in quiet.items():
        logging.getLogger(name).setLevel(quiet_level)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        for name, previous_quiet in previous.items():
            logging.getLogger(name).setLevel(previous_quiet)

    return undo
