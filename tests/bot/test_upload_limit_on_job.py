"""The server's upload limit travels with the job: any process may deliver it.

The process that accepts a job holds the server's shard and sees its boost level; the process
that delivers it may not have the server in its cache at all (another shard range), and
discord.py then assumes the unboosted 10 MiB limit. The job records the limit when it is accepted.
"""

from __future__ import annotations

from typing import Any

from tests.bot.conftest import shown

_ELEVEN_MIB = 11 * 1_048_576
_BOOSTED_LIMIT = 50 * 1_048_576  # premium tier 2


async def test_a_boosted_server_gets_the_file_from_a_process_without_it_in_cache(world_factory: Any) -> None:
    async with world_factory("apimall", server={"file_size": _ELEVEN_MIB}) as world:
        guild = world.bot.get_guild(world.guild.id)
        guild.premium_tier = 2  # boosted, as the accepting process's gateway reported it
        assert guild.filesize_limit == _BOOSTED_LIMIT
        await world.video(world.alice)
        [job] = await world.jobs(world.alice)
        assert job.upload_limit_bytes == _BOOSTED_LIMIT
        # From here the delivering process has never seen the server (its shard is elsewhere).
        world.bot._connection._remove_guild(guild)
        assert world.bot.get_guild(world.guild.id) is None
        await world.env.advance_time(200)
        [posted] = world.results()
        assert [attachment.size for attachment in posted.attachments] == [_ELEVEN_MIB]
        assert "upload limit" not in shown(posted).content
        assert (await world.balance(world.alice)).available == 420


async def test_the_recorded_limit_still_sends_a_link_when_the_file_is_larger(world_factory: Any) -> None:
    async with world_factory("apimall", server={"file_size": _ELEVEN_MIB}) as world:
        await world.video(world.alice)  # an unboosted server: 10 MiB
        [job] = await world.jobs(world.alice)
        assert job.upload_limit_bytes == 10 * 1_048_576
        await world.env.advance_time(200)
        [posted] = world.results()
        assert posted.attachments == []
        assert "upload limit" in shown(posted).content
