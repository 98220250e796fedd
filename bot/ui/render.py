"""How jobs and balances look in Discord. Pure functions: models in, text and embeds out."""

from __future__ import annotations

from datetime import datetime

import discord

from bot.domain import discord_limits as limits
from bot.domain import markdown
from bot.domain.models import Balance, Job, JobState, VideoSpec
from bot.services.jobs import Accepted, Quote

PROMPT_PREVIEW_CHARS = 300
_COLOR = discord.Colour.from_rgb(88, 101, 242)
_SANDBOX_NOTE = "Sandbox render: a sample clip. No provider credits were spent."


def timestamp(moment: datetime, style: str = "R") -> str:
    """Discord renders this in each reader's own time zone."""
    return f"<t:{int(moment.timestamp())}:{style}>"


def duration_text(seconds: float) -> str:
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def truncate(text: str, limit: int) -> str:
    return limits.truncate(text, limit)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """The embed cut to Discord's limits (each part, then the 6,000 in total), in place.

    The last safety net for a reply: lists are fitted where they are built (``fit_lines``), so
    this only trims what would otherwise make Discord refuse the whole message."""
    if embed.title:
        embed.title = limits.truncate(embed.title, limits.EMBED_TITLE)
    if embed.description:
        embed.description = limits.truncate(embed.description, limits.EMBED_DESCRIPTION)
    fields = embed.fields[: limits.EMBED_FIELDS]
    embed.clear_fields()
    for field in fields:
        embed.add_field(
            name=limits.truncate(field.name or "\u200b", limits.FIELD_NAME),
            value=limits.truncate(field.value or "\u200b", limits.FIELD_VALUE),
            inline=bool(field.inline),
        )
    if embed.footer.text:
        embed.set_footer(text=limits.truncate(embed.footer.text, limits.FOOTER), icon_url=embed.footer.icon_url)
    over = len(embed) - limits.EMBED_TOTAL
    if over > 0 and embed.description:
        embed.description = limits.truncate(embed.description, max(1, len(embed.description) - over))
    while len(embed) > limits.EMBED_TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    return embed


def prompt_preview(prompt: str, limit: int = PROMPT_PREVIEW_CHARS) -> str:
    """A member's prompt for an embed: cut to ``limit`` typed characters, shown as typed."""
    return markdown.escape(truncate(prompt, limit))


def prompt_inline(prompt: str, limit: int) -> str:
    """A member's prompt inside a sentence: on one line, cut, shown as typed."""
    return markdown.inline(truncate(" ".join(prompt.split()), limit))


def spec_line(spec: VideoSpec) -> str:
    return f"{spec.mode.label} · {spec.duration} s · {spec.resolution}"


def accepted_text(accepted: Accepted) -> str:
    job = accepted.job
    return (
        f"✅ Job **#{job.id}** accepted: {spec_line(job.spec)}.\n"
        f"Price **{job.price}** credits, held until the video is posted (returned if it is not).\n"
        f"Balance after the hold: **{accepted.balance.available}** credits.\n"
        "Progress shows in this channel; the video is posted here when it is ready."
    )


def confirm_text(spec: VideoSpec, quote: Quote) -> str:
    return (
        f"💳 **Confirm this video?** {spec_line(spec)}\n"
        f"Price **{quote.price}** credits · balance now **{quote.balance.available}**, "
        f"after it **{quote.balance_after}**.\n"
        "Nothing is held until you press Confirm, and the credits come back if the video is not posted."
    )


def sentence(text: str) -> str:
    """A reason as one sentence: capital first, a full stop last, spaces tidied."""
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


def ended_notice(job: Job) -> str:
    """The one public message of a job that ended without a video; it pings only the member."""
    reason = sentence(job.error_message or "") or "It did not finish."
    what = {
        JobState.REFUSED: "was refused",
        JobState.TIMED_OUT: "timed out",
    }.get(job.state, "failed")
    return f"<@{job.member_id}>, your job **#{job.id}** {what}. {reason} Your **{job.price}** credits are back."


def result_embed(job: Job, *, link: str | None = None) -> discord.Embed:
    embed = discord.Embed(
        title=f"Job #{job.id} · {job.spec.mode.label}",
        description=prompt_preview(job.spec.prompt),
        colour=_COLOR,
        url=link,
    )
    embed.add_field(name="Duration", value=f"{job.spec.duration} s")
    embed.add_field(name="Resolution", value=job.spec.resolution)
    embed.add_field(name="Cost", value=f"{job.price} credits")
    render = job.render_seconds
    if render is not None:
        embed.add_field(name="Render time", value=duration_text(render))
    embed.set_footer(text=_SANDBOX_NOTE if job.is_sandbox else f"Wan 2.6 · job #{job.id}")
    return embed


def result_text(job: Job, *, link: str | None = None) -> str:
    text = f"<@{job.member_id}>, your video is ready."
    if link:
        text += f" It is larger than this server's upload limit, so here is the link: {link}"
    return text


def balance_line(balance: Balance) -> str:
    held = f" ({balance.held} held by running jobs)" if balance.held else ""
    return f"**{balance.available}** credits available{held}"


_PERIOD_UNIT = {"daily": "day", "weekly": "week", "monthly": "month"}


def allowance_text(amount: int, period: str) -> str:
    """ "500 per week", or "500, no refills" for a one-time allowance."""
    unit = _PERIOD_UNIT.get(period)
    return f"{amount} per {unit}" if unit else f"{amount}, no refills"
