"""Finding channels and messages with the bot token, shared by delivery, reviews and reports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import discord

from bot.errors import UserFacingError
from bot.services.events import DeliveryError

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

# Channels the bot posts results and notices in; each can hand out partial messages by id.
PostChannel = (
    discord.TextChannel
    | discord.Thread
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.DMChannel
    | discord.PartialMessageable
)
_POST_CHANNELS = (
    discord.TextChannel,
    discord.Thread,
    discord.VoiceChannel,
    discord.StageChannel,
    discord.DMChannel,
    discord.PartialMessageable,
)
# How many messages to look through, newest first, for a post made just before a crash.
# Newest first, because that post was the bot's last act for the job: in a busy channel the
# messages between the render's end and the post can outnumber any small window read from the
# render's end forward (Discord answers ``after=`` with the messages right after it). The scan
# stops at ``since``; the cap bounds the cost to ten history pages.
HISTORY_SCAN_LIMIT = 1000


def owner_only(member_id: int) -> discord.AllowedMentions:
    """Ping the job's owner and nobody else, whatever the prompt says."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=[discord.Object(member_id)])


def as_delivery_error(error: discord.HTTPException, what: str) -> DeliveryError:
    if isinstance(error, discord.Forbidden | discord.NotFound):
        return DeliveryError(f"{what}: {error.status} {error.text or ''}".strip(), transient=False)
    # 429 is handled inside discord.py; what reaches here is 5xx or an odd 4xx.
    return DeliveryError(f"{what}: HTTP {error.status}", transient=error.status >= 500)


async def post_channel(bot: WanBot, channel_id: int) -> PostChannel:
    """The channel by id, from the cache or the API. Raises DeliveryError."""
    channel = bot.get_channel(channel_id)
    if channel is None:
        try:
            channel = await bot.fetch_channel(channel_id)
        except discord.HTTPException as error:
            raise as_delivery_error(error, "channel lookup") from None
    if not isinstance(channel, _POST_CHANNELS):
        raise DeliveryError(f"channel {channel_id} cannot hold messages", transient=False)
    return channel


def walk_components(components: Iterable[discord.Component]) -> Iterator[discord.Component]:
    """Every component of a message, nested ones included: a classic message's buttons sit in
    action rows; a Components V2 card's sit in an action row inside a container (or a section)."""
    for component in components:
        yield component
        yield from walk_components(getattr(component, "children", ()))
        accessory = getattr(component, "accessory", None)
        if accessory is not None:
            yield from walk_components((accessory,))


def custom_ids(message: discord.Message) -> Iterator[str]:
    for component in walk_components(message.components):
        custom_id = getattr(component, "custom_id", None)
        if isinstance(custom_id, str):
            yield custom_id


def has_component(custom_id: str) -> Callable[[discord.Message], bool]:
    """Matches a message carrying a button or select with exactly this custom_id, in either style."""

    def matches(message: discord.Message) -> bool:
        return any(found == custom_id for found in custom_ids(message))

    return matches


async def find_posted(
    bot: WanBot,
    channel: PostChannel,
    matches: Callable[[discord.Message], bool],
    since: datetime,
    *,
    what: str = "history scan",
) -> int | None:
    """The newest message of the bot's posted after ``since`` that ``matches``, if any."""
    me = bot.user
    scanned = 0
    try:
        async for message in channel.history(limit=HISTORY_SCAN_LIMIT, after=since, oldest_first=False):
            scanned += 1
            if (me is None or message.author.id == me.id) and matches(message):
                return message.id
    except discord.HTTPException as error:
        raise as_delivery_error(error, what) from None
    if scanned >= HISTORY_SCAN_LIMIT:
        log.warning("nothing found in the newest %d messages of channel %s; it may be older still", scanned, channel.id)
    return None


async def delete_message(bot: WanBot, channel_id: int, message_id: int) -> bool:
    """Delete a message; True if it was there. A message already gone (or its channel) is not an error."""
    try:
        channel = await post_channel(bot, channel_id)
        await channel.get_partial_message(message_id).delete()
    except discord.NotFound:
        return False
    except DeliveryError as error:
        if error.transient:
            raise UserFacingError("Discord did not answer in time. Try again in a moment.") from None
        return False
    except discord.Forbidden:
        raise UserFacingError(
            f"I can't delete that message: I need the Manage Messages permission in <#{channel_id}>."
        ) from None
    return True


# What the bot needs in a channel to post a video there (a file, an embed, and the history scan
# that finds a post made just before a crash). In a thread, Send Messages in Threads replaces
# Send Messages. Checked before anything is held.
_NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "attach_files": "Attach Files",
    "embed_links": "Embed Links",
    "read_message_history": "Read Message History",
}


async def cannot_post_reason(
    bot: WanBot, channel: object, permissions: discord.Permissions, *, for_member: bool = True
) -> str | None:
    """Why the bot could not post a video in ``channel`` (a sentence saying what to change), or None.

    ``permissions`` are the bot's in that channel; ``for_member`` adds what a member can do about
    it. For a thread Discord computes them from the parent channel, so they cannot tell whether
    the bot may post in a private thread: that needs thread membership or Manage Threads (which
    lets it see every private thread), and a locked thread takes posts only from those with
    Manage Threads. An archived, unlocked thread
    is fine: posting in it unarchives it.
    """
    if permissions.administrator:
        permissions = discord.Permissions.all()
    thread = channel if isinstance(channel, discord.Thread) else None
    missing = [label for name, label in _NEEDED.items() if not getattr(permissions, name)]
    if thread is not None:
        missing = [label for label in missing if label != "Send Messages"]
        if not permissions.send_messages_in_threads:
            missing.insert(1, "Send Messages in Threads")
    if missing:
        where, advice = ("here", " Ask an admin to allow it, or use another channel.") if for_member else ("there", "")
        return f"I'm missing {', '.join(missing)} {where}.{advice}"
    if thread is None or permissions.manage_threads:
        return None
    if thread.locked:
        return (
            "This thread is locked, so only moderators (Manage Threads) can post in it. Ask a moderator "
            "to unlock it, or use another channel."
        )
    if thread.type is discord.ChannelType.private_thread and not await is_thread_member(bot, thread):
        return (
            "This is a private thread I'm not in, so I could not post the video here. Add me to the "
            f"thread (mention {bot.user.mention if bot.user else 'me'} in it), ask an admin to give me "
            "Manage Threads, or use another channel."
        )
    return None


async def is_thread_member(bot: WanBot, thread: discord.Thread) -> bool:
    """Whether the bot is in the thread, asked of Discord: the cache is no proof (discord.py keeps
    the bot's own thread membership after the bot was removed from the thread)."""
    me = bot.user
    if me is None:
        return False
    try:
        await thread.fetch_member(me.id)
    except (discord.NotFound, discord.Forbidden):
        return False  # not a member, or not even allowed to see the thread
    except discord.HTTPException:
        raise UserFacingError("Discord did not answer in time. Try again in a moment. Nothing was charged.") from None
    return True


def bot_permissions_in(channel: object) -> discord.Permissions | None:
    """The bot's own permissions in a server channel from the cache, None when it cannot tell."""
    guild = getattr(channel, "guild", None)
    me = guild.me if isinstance(guild, discord.Guild) else None
    if me is None or not isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        return None
    return channel.permissions_for(me)
