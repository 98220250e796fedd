"""/video: a prompt, optionally an image or a video, to a posted Wan 2.6 video."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain.validation import MAX_PROMPT_CHARS, Media, build_spec
from bot.exts.video._flow import start_job

if TYPE_CHECKING:
    from bot.app import WanBot


def _media(attachment: discord.Attachment | None) -> Media | None:
    if attachment is None:
        return None
    return Media(
        url=attachment.url,
        filename=attachment.filename,
        content_type=attachment.content_type,
        size=attachment.size,
    )


class VideoCog(commands.Cog):
    def __init__(self, bot: WanBot) -> None:
        self.bot = bot

    @app_commands.command(name="video", description="Make a Wan 2.6 video from a prompt, an image or a video")
    @app_commands.guild_only()
    @app_commands.describe(
        prompt="What should happen in the video (1 to 5000 characters)",
        duration="Length in seconds (video-to-video: 5 or 10)",
        resolution="Output resolution",
        image="An image to animate (image-to-video)",
        video="A video to transform (video-to-video)",
        image_url="An https link to an image, instead of attaching one",
        video_url="An https link to a video, instead of attaching one",
    )
    @app_commands.choices(
        duration=[app_commands.Choice(name=f"{seconds} seconds", value=str(seconds)) for seconds in (5, 10, 15)],
        resolution=[app_commands.Choice(name=value, value=value) for value in ("720p", "1080p")],
    )
    async def video(
        self,
        interaction: discord.Interaction,
        # Discord enforces the length while the member types; build_spec checks it again.
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        duration: str | None = None,
        resolution: str | None = None,
        image: discord.Attachment | None = None,
        video: discord.Attachment | None = None,
        image_url: str | None = None,
        video_url: str | None = None,
    ) -> None:
        requests = self.bot.config.requests
        spec = build_spec(
            prompt=prompt,
            duration=duration,
            resolution=resolution,
            image=_media(image),
            video=_media(video),
            image_url=image_url,
            video_url=video_url,
            limits=self.bot.services.media_limits,
            default_duration=requests.default_duration,
            default_resolution=requests.default_resolution,
        )
        await start_job(self.bot, interaction, spec)
