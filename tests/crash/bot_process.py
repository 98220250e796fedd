"""The real bot as its own process, on SimCord, with members typing ``/video`` now and then.

    python -m tests.crash.bot_process --dir D --provider-url URL --kind apimall --run N ...

Nothing here changes the bot: it is built with ``create_bot`` from a config and started on
SimCord exactly as the end-to-end tests do. What the harness adds around it:

- the world (guild, channel, members) is created at virtual time zero in a fresh simulated
  Discord, so every process gets the same ids; ``world.json`` from the first run proves it;
- the simulated channel is re-seeded from the message log and every new bot message is
  logged before the bot hears back (``discord_log``);
- the simulated clock is moved to the shared virtual time, then kept in step with it;
- with ``--drive``, members invoke ``/video`` (and now and then cancel a queued job) at random.

Unexpected errors SimCord caught in bot tasks are appended to ``bot-errors.txt``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import traceback
from pathlib import Path
from typing import Any

import simcord

from bot.assemble import create_bot
from bot.config import config_from_mapping
from tests.crash import discord_log
from tests.crash.common import Layout, VirtualClock
from tests.crash.provider_process import API_KEY

MEMBERS = 6
SETTLE_SECONDS = 4.0
PROMPTS = ("a lighthouse in a storm", "a red fox in snow", "a paper boat on a river", "neon city at night")
IMAGE_URL = "https://images.example/cat.png"
VIDEO_URL = "https://videos.example/clip.mp4"


def bot_config(layout: Layout, args: argparse.Namespace) -> Any:
    return config_from_mapping(
        {
            "database": {"path": str(layout.database)},
            "provider": {
                "kind": args.kind,
                "base_url": args.provider_url,
                "api_key": API_KEY,
                "poll_interval_seconds": 2,
                "request_timeout_seconds": 5,
                "job_timeout_minutes": 30,
            },
            # Daily refills, one day boundary crossed per session (see harness.refill_after).
            "credits": {"default_allowance": args.allowance, "refill_period": "daily", "confirm_above": 100_000},
            # The harness's members act at random: no cooldown, running-job or queue limits to refuse them
            # (those have their own tests); every accepted job goes straight to the provider.
            "limits": {"cooldown_seconds": 0, "max_running_per_member": 100, "max_in_flight": 1000},
            "loop": {"tick_seconds": 2},
        },
        environ={},
    )


class World:
    def __init__(self, env: simcord.Env) -> None:
        # Snowflakes encode the simulated clock, so the world is made before the clock moves, in
        # every process: the same calls in the same order then give the same ids. It exists
        # before the bot starts, as a real server does, so the first tick finds the channel.
        assert env.backend.clock.elapsed == 0.0
        guild = env.create_guild(name="Crash Test")
        self.channel = guild.create_text_channel("videos")
        self.members = [guild.add_member(env.create_user(f"member{index}")) for index in range(MEMBERS)]
        self.ids = {
            "bot": env.backend.bot_user.id,
            "guild": guild.id,
            "channel": self.channel.id,
            "members": [member.id for member in self.members],
        }

    def check_same_as_before(self, path: Path) -> None:
        """Every process must see the same ids, or jobs in SQLite would point at nothing."""
        if not path.exists():
            path.write_text(json.dumps(self.ids))
            return
        before = json.loads(path.read_text())
        if before != self.ids:
            raise SystemExit(f"the simulated world changed ids between runs: {before} != {self.ids}")


def video_options(rng: random.Random, nonce: str) -> dict[str, Any]:
    options: dict[str, Any] = {"prompt": f"{rng.choice(PROMPTS)} [{nonce}]"}
    if rng.random() < 0.6:
        options["duration"] = rng.choice(["5", "10", "15"])
    if rng.random() < 0.5:
        options["resolution"] = rng.choice(["720p", "1080p"])
    media = rng.random()
    if media < 0.2:
        options["image_url"] = IMAGE_URL
    elif media < 0.35:
        options["video_url"] = VIDEO_URL  # with duration 15 this is refused, as it must be
    return options


async def act(world: World, rng: random.Random, run: int, counter: int) -> None:
    member = rng.choice(world.members)
    await member.slash(world.channel, "video", **video_options(rng, f"r{run}n{counter}"))
    if rng.random() < 0.15:
        # Cancel it at once if it is still queued: races the runner's submit on purpose.
        listing = await member.slash(world.channel, "jobs")
        message = listing.response.message if listing.response is not None else None
        ids = [c for c in _custom_ids(message) if c.startswith("wan:cancel:")] if message is not None else []
        if ids:
            await member.click(message, custom_id=ids[0])


def _custom_ids(message: Any) -> list[str]:
    return [
        child.custom_id
        for row in getattr(message, "components", ())
        for child in getattr(row, "children", ())
        if isinstance(getattr(child, "custom_id", None), str)
    ]


async def main_async(args: argparse.Namespace) -> None:
    layout = Layout(args.dir)
    clock = VirtualClock(args.started, args.speed, args.offset)
    rng = random.Random(f"{args.seed}-{args.run}")
    bot = create_bot(bot_config(layout, args))
    # A settle waits for any timer due before its deadline; aiohttp's 15 s keep-alive timers
    # must stay beyond it, or every step would wait for them in real time.
    env = simcord.Env(bot, check_errors=False, settle_timeout=SETTLE_SECONDS)
    world = World(env)
    world.check_same_as_before(layout.world)
    reseeded = discord_log.reseed(env.backend, layout.discord_log)
    discord_log.Recorder(env.backend, layout.discord_log, run=args.run, latency=args.discord_latency).install()
    # The bot is born at the shared virtual time: its loop schedules from there, and anything
    # it stored before the kill is judged against the same clock.
    env.backend.advance_clock(clock())
    await env.start()
    with env.time_context():
        await bot.tree.sync()
        logging.getLogger("crash").info("run %d ready, %d messages re-seeded", args.run, reseeded)
        print("ready", flush=True)
        counter = 0
        seen_errors = 0
        next_action = env.backend.clock.elapsed + rng.expovariate(1 / args.mean_gap)
        while True:
            try:
                if args.drive and env.backend.clock.elapsed >= next_action:
                    counter += 1
                    await act(world, rng, args.run, counter)
                    next_action = env.backend.clock.elapsed + rng.expovariate(1 / args.mean_gap)
                lag = clock() - env.backend.clock.elapsed
                if lag > 0:
                    await env.advance_time(min(lag, next_action - env.backend.clock.elapsed) if args.drive else lag)
                else:
                    await asyncio.sleep(0.01)
            except TimeoutError:
                # The simulator's "still busy after SETTLE_SECONDS": progress so far is kept; carry on.
                logging.getLogger("crash").warning("settle timed out; continuing", exc_info=True)
            errors = env.errors
            if len(errors) > seen_errors:
                with layout.errors.open("a") as handle:
                    for error in errors[seen_errors:]:
                        handle.write(f"run {args.run}: " + "".join(traceback.format_exception(error)) + "\n")
                seen_errors = len(errors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--provider-url", required=True)
    parser.add_argument("--kind", choices=("apimall", "wan26ai"), required=True)
    parser.add_argument("--started", type=float, required=True)
    parser.add_argument("--speed", type=float, required=True)
    parser.add_argument("--offset", type=float, required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drive", action="store_true", help="members invoke /video at random")
    parser.add_argument("--discord-latency", type=float, default=0.03, help="real seconds Discord takes to answer")
    parser.add_argument("--mean-gap", type=float, default=15.0, help="virtual seconds between member actions")
    parser.add_argument("--allowance", type=int, default=8000, help="credits per member per day")
    args = parser.parse_args()
    layout = Layout(args.dir)
    layout.bot_log(args.run).parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=layout.bot_log(args.run),
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("discord").setLevel(logging.WARNING)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
