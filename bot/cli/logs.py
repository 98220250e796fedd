"""Log setup for every command: one line per event, secrets masked in everything written.

The adapters already keep the API key out of what they log; this is the second line of
defence, applied to the final text of every record (message, arguments and traceback alike):
the configured secrets, Authorization headers, and the per-job token in callback URLs (a
``--debug`` provider body log shows the ``callback_url`` sent to wan26ai).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable

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


def configure_logging(debug: bool, *, secrets: Iterable[str] = ()) -> Callable[[], None]:
    """Send every log record to stderr through the masking formatter; returns an undo function.

    A handler of our own rather than ``basicConfig``: it works even when something (a test
    runner) already put handlers on the root logger, and it can be taken off again.
    """
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets=secrets))
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    quiet = {
        # discord.py's gateway chatter is noise at INFO for an operator; aiosqlite logs every call at DEBUG.
        "discord.gateway": logging.DEBUG if debug else logging.WARNING,
        "aiosqlite": logging.INFO,
    }
    previous = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)

    def undo() -> None:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)

    return undo
