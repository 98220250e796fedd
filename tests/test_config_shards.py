"""``[discord] shard_ids`` / ``shard_count``: one process runs a range of the bot's shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def _load(tmp_path: Path, discord_section: str):  # type: ignore[no-untyped-def]
    file = tmp_path / "config.toml"
    file.write_text(f"[discord]\n{discord_section}\n", encoding="utf-8")
    return load_config(file, environ={})


def test_no_sharding_by_default(tmp_path: Path) -> None:
    config = _load(tmp_path, "")
    assert config.discord.shard_count is None
    assert config.discord.shard_ids is None
    assert not config.discord.sharded


def test_a_range_of_shards_with_the_total(tmp_path: Path) -> None:
    config = _load(tmp_path, "shard_count = 4\nshard_ids = [2, 3]")
    assert config.discord.sharded
    assert config.discord.shard_ids == [2, 3]
    assert config.discord.shard_count == 4


def test_shard_count_alone_runs_every_shard_here(tmp_path: Path) -> None:
    assert _load(tmp_path, "shard_count = 3").discord.sharded


def test_shard_ids_without_shard_count_is_refused_saying_what_to_add(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"shard_ids needs \[discord\] shard_count"):
        _load(tmp_path, "shard_ids = [0, 1]")


@pytest.mark.parametrize(
    ("section", "says"),
    [
        ("shard_count = 2\nshard_ids = [0, 2]", r"shard id 2 is not below shard_count 2"),
        ("shard_count = 2\nshard_ids = [1, 1]", r"shard_ids lists 1 twice"),
        ("shard_count = 2\nshard_ids = []", r"shard_ids is empty"),
        ("shard_count = 0", r"shard_count"),
    ],
)
def test_shard_ranges_that_cannot_work_are_refused(tmp_path: Path, section: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        _load(tmp_path, section)
