"""``python -m bot demo --browser``: the real bot on a simulated server, driven from a Discord-like page
that SimCord's preview serves on 127.0.0.1, while a background clock lets renders finish.

It serves until Ctrl-C (or SIGTERM, or "End preview session" on the page), then closes the bot
cleanly and removes its temporary database.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from bot.demo_browser import INSTALL_CHROMIUM, chromium_path, missing_preview
from bot.demo_clock import SerializedClock
from bot.demo_world import demo_bot, populate, welcome_text

Write = Callable[[str], None]


def tunnel_line(port: int) -> str:
    # The page only answers Host 127.0.0.1:PORT / localhost:PORT, so both ends use the same port.
    target = f"{getpass.getuser()}@{socket.gethostname()}"
    return (
        f"From another machine: ssh -N -L {port}:127.0.0.1:{port} {target}, then open the same URL there"
        " (the part after # is the access token: share the URL only with people who may drive the demo)."
    )


def _stop_on_signals(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    installed = []
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stop.set)
            installed.append(number)

    def undo() -> None:
        for number in installed:
            loop.remove_signal_handler(number)

    return undo


async def serve(out: Write, *, port: int, speed: float) -> int:
    problem = missing_preview()
    if problem:
        out(problem)
        return 2
    import simcord
    from simcord import SetupError

    stop = asyncio.Event()
    undo_signals = _stop_on_signals(stop)
    try:
        with tempfile.TemporaryDirectory(prefix="wanbot-demo-") as folder:
            bot = demo_bot(Path(folder))
            # A long session: bot errors are logged as they happen rather than raised at the end.
            async with simcord.run(bot, strict_sync=False, check_errors=False) as env:
                world = await populate(env, bot)
                await world.admin.send(world.channel, welcome_text(speed))
                try:
                    preview = env.preview(world.channel, viewers=world.people, layout="channel", port=port)
                    await preview.__aenter__()
                except SetupError as error:
                    out(f"Cannot serve the page on 127.0.0.1:{port} ({error}): pick another port with --port.")
                    await bot.close()
                    return 2
                try:
                    clock = SerializedClock(env, preview, speed=speed, fingerprint=world.fingerprint)
                    clock.install()
                    out(f"Open {preview.url}")
                    out(tunnel_line(urlsplit(preview.url).port or port))
                    if chromium_path() is None:
                        out(f"(No Chromium here: use the ssh line from another machine, or {INSTALL_CHROMIUM}.)")
                    out("Ctrl-C stops the demo.")
                    ticking = asyncio.create_task(clock.run())
                    ended = asyncio.create_task(preview.wait_closed())
                    stopping = asyncio.create_task(stop.wait())
                    await asyncio.wait({ticking, ended, stopping}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (ticking, ended, stopping):
                        task.cancel()
                    await asyncio.gather(ticking, ended, stopping, return_exceptions=True)
                finally:
                    await preview.close()
                    await bot.close()
    finally:
        undo_signals()
    out("Demo stopped: the bot closed cleanly and its temporary database is gone.")
    return 0
