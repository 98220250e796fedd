"""``python -m bot check`` on a process that runs a range of shards."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import DISCORD_TOKEN, Cli, write_config


async def test_part_of_the_shards_on_sqlite_is_a_problem(tmp_path: Path, cli: Cli) -> None:
    text = f'[discord]\ntoken = "{DISCORD_TOKEN}"\nshard_count = 4\nshard_ids = [0, 1]\n'
    result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert "PROBLEM  shards: this process runs shards 0, 1 of 4" in result.out
    assert "share one PostgreSQL database" in result.out and "[database] url" in result.out


async def test_every_shard_in_one_process_is_fine_on_sqlite(tmp_path: Path, cli: Cli) -> None:
    text = f'[discord]\ntoken = "{DISCORD_TOKEN}"\nshard_count = 2\n'
    result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert "ok       shards: this process runs all 2 shards" in result.out
