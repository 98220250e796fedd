"""``python -m bot``: see ``bot.cli`` for the commands."""

from __future__ import annotations

import sys

from bot.cli import GETTING_STARTED, main

__all__ = ["GETTING_STARTED", "main"]

if __name__ == "__main__":
    sys.exit(main())
