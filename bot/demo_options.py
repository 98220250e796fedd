"""The flags of ``python -m bot demo``; kept apart so building the command line imports nothing heavy."""

from __future__ import annotations

import argparse

# Pinned, so the ssh tunnel line printed once keeps working across restarts of the demo.
DEFAULT_PORT = 8766
# One real second is this many virtual seconds: a sandbox render takes a few real seconds.
DEFAULT_SPEED = 5.0


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0-65535 (0 picks a free one)")
    return value


def _speed(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(
            "speed is how many virtual seconds pass per real second, above 0 and at most 600"
        )
    return value


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--browser",
        action="store_true",
        help="serve a Discord-like page on 127.0.0.1 where you use the real bot yourself (needs the 'browser' extra)",
    )
    mode.add_argument(
        "--screenshots",
        metavar="DIR",
        help="play a scripted tour and write one PNG per step into DIR (needs the 'browser' extra and Chromium)",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"--browser: the loopback port (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=DEFAULT_SPEED,
        help=f"--browser: virtual seconds per real second (default {DEFAULT_SPEED:g})",
    )
