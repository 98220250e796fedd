"""Message context menus: "Animate with Wan" (an image in a message) and "Transform with Wan" (a video).

A modal asks for the prompt, duration and resolution; then it is exactly /video (``start_job``):
the same checks before anything is held, the same quote and Confirm, progress and delivery. Only
the media's URL goes to the provider; the bot never downloads a member's file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.models import Duration, Mode
from bot.domain.validation import MAX_PROMPT_CHARS, Media, build_spec
from bot.errors import UserFacingError
from bot.exts.video._flow import start_job
from bot.ui.answers import check_bot_can_post, send_ephemeral
from bot.ui.errors import report_error

if TYPE_CHECKING:
    from bot.app import WanBot

# Discord's limits for a modal text field and its placeholder.
MODAL_PROMPT_CHARS = 4000
PLACEHOLDER_CHARS = 100


@dataclass(frozen=True, slots=True)
class Picked:
    """The media a message offers: an attachment (checked like /video's) or an embed's https link."""

    attachment: Media | None
    url: str | None
    count: int  # how many of that kind the message has (the first is used)


def _attachments(message: discord.Message, kind: str) -> list[Media]:
    return [
        Media(url=a.url, filename=a.filename, content_type=a.content_type, size=a.size)
        for a in message.attachments
        if (a.content_type or "").lower().startswith(f"{kind}/")
    ]


def _embed_urls(message: discord.Message, kind: str) -> list[str]:
    urls: list[str] = []
    for embed in message.embeds:
        if kind == "image":
            # A pasted image link unfurls as an embed whose picture is the thumbnail.
            url = embed.image.url or (embed.thumbnail.url if embed.type == "image" else None)
        else:
            url = embed.video.url if embed.type in ("video", "gifv") else None
        if url:
            urls.append(url)
    return urls


def pick(message: discord.Message, kind: str) -> Picked | None:
    attachments = _attachments(message, kind)
    urls = _embed_urls(message, kind)
    count = len(attachments) + len(urls)
    if attachments:
        return Picked(attachments[0], None, count)
    if urls:
        return Picked(None, urls[0], count)
    return None


def _placeholder(message: discord.Message) -> str | None:
    text = " ".join(message.content.split())
    if not text:
        return None
    return text if len(text) <= PLACEHOLDER_CHARS else text[: PLACEHOLDER_CHARS - 1] + "…"


def default_duration(bot: WanBot, kind: str) -> Duration:
    """The server default, except that video-to-video has no 15 s: then the longest it has."""
    chosen = bot.config.requests.default_duration
    durations = Mode.VIDEO_TO_VIDEO.durations if kind == "video" else Mode.IMAGE_TO_VIDEO.durations
    return chosen if chosen in durations else max(durations)


class WanModal(discord.ui.Modal):
    def __init__(self, bot: WanBot, *, title: str, kind: str, picked: Picked, source: discord.Message) -> None:
        super().__init__(title=title, timeout=600)
        self.bot = bot
        self.kind = kind
        self.picked = picked
        self.source = source
        defaults = bot.config.requests
        self.default_duration = default_duration(bot, kind)
        durations = "5 or 10" if kind == "video" else "5, 10 or 15"
        which = f"First of {picked.count} {kind}s used. " if picked.count > 1 else ""
        self.prompt: discord.ui.TextInput[WanModal] = discord.ui.TextInput(
            custom_id="prompt",
            style=discord.TextStyle.long,
            max_length=MODAL_PROMPT_CHARS,
            placeholder=_placeholder(source),
        )
        self.duration: discord.ui.TextInput[WanModal] = discord.ui.TextInput(
            custom_id="duration",
            required=False,
            max_length=4,
            placeholder=f"{durations}; empty = {self.default_duration}",
        )
        self.resolution: discord.ui.TextInput[WanModal] = discord.ui.TextInput(
            custom_id="resolution",
            required=False,
            max_length=6,
            placeholder=f"720p or 1080p; empty = {defaults.default_resolution}",
        )
        self.add_item(
            discord.ui.Label(
                text="Prompt",
                description=(
                    f"{which}Up to {MODAL_PROMPT_CHARS:,} characters here (a form's limit); "
                    f"/video takes {MAX_PROMPT_CHARS:,}."
                ),
                component=self.prompt,
            )
        )
        self.add_item(
            discord.ui.Label(
                text="Duration (seconds)",
                description=f"{durations}. Leave empty for {self.default_duration}.",
                component=self.duration,
            )
        )
        self.add_item(
            discord.ui.Label(
                text="Resolution",
                description=f"720p or 1080p. Leave empty for {defaults.default_resolution}.",
                component=self.resolution,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        resolution = self.resolution.value.strip().lower() or None
        if resolution is not None and resolution.isdigit():
            resolution += "p"  # "1080" means 1080p
        requests = self.bot.config.requests
        media, url = self.picked.attachment, self.picked.url
        try:
            spec = build_spec(
                prompt=self.prompt.value,
                duration=self.duration.value.strip() or None,
                resolution=resolution,
                image=media if self.kind == "image" else None,
                video=media if self.kind == "video" else None,
                image_url=url if self.kind == "image" else None,
                video_url=url if self.kind == "video" else None,
                limits=self.bot.services.media_limits,
                default_duration=self.default_duration,
                default_resolution=requests.default_resolution,
            )
            await start_job(self.bot, interaction, spec, source=self.source)
        except UserFacingError as error:
            await send_ephemeral(interaction, error.message)
        except Exception as error:
            await report_error(interaction, error)


_NEEDS = {
    "image": (
        "**Animate with Wan** needs a message with an image: an attached picture (png, jpg, webp…) or an "
        "image link that shows a preview. This one has none, so nothing was started or charged. "
        "You can also use `/video` with `image`."
    ),
    "video": (
        "**Transform with Wan** needs a message with a video: an attached clip (mp4, mov, webm…) or a "
        "video link that plays in Discord. This one has none, so nothing was started or charged. "
        "You can also use `/video` with `video`."
    ),
}


class AnimateCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        self.menus = [
            app_commands.ContextMenu(name="Animate with Wan", callback=self.animate),
            app_commands.ContextMenu(name="Transform with Wan", callback=self.transform),
        ]
        for menu in self.menus:
            menu.guild_only = True
            bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    async def animate(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await self._open(interaction, message, "image", "Animate with Wan")

    async def transform(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await self._open(interaction, message, "video", "Transform with Wan")

    async def _open(self, interaction: discord.Interaction, message: discord.Message, kind: str, title: str) -> None:
        # Before the form: no point filling it in where the result could not be posted.
        await check_bot_can_post(interaction)
        picked = pick(message, kind)
        if picked is None:
            await interaction.response.send_message(_NEEDS[kind], ephemeral=True)
            return
        if picked.url is not None and not picked.url.lower().startswith("https://"):
            await interaction.response.send_message(
                f"This message's {kind} is a plain http link, and only https links are handed to the video "
                f"provider. Post the {kind} as an attachment or an https link and try again. Nothing was charged.",
                ephemeral=True,
            )
            return
        await interaction.response.send_modal(WanModal(self.bot, title=title, kind=kind, picked=picked, source=message))
