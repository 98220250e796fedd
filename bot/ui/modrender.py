"""How moderation looks in Discord. Pure functions: models in, text and embeds out."""

from __future__ import annotations

import discord

from bot.domain import discord_limits as limits
from bot.domain import markdown
from bot.domain.models import Job, JobState
from bot.domain.moderation import (
    AuditAction,
    AuditEntry,
    HistoryItem,
    ModerationSettings,
    PromptRule,
    Report,
    ReviewState,
    RuleKind,
)
from bot.services.moderation import Page
from bot.ui import render

_REVIEW_COLOR = discord.Colour.gold()
_REPORT_COLOR = discord.Colour.red()
# Discord allows 4,096 in a description; the rest is room for the heading line above the list.
_EMBED_TEXT_LIMIT = limits.EMBED_DESCRIPTION - 200


def jump_url(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _who(member_id: int | None) -> str:
    return f"<@{member_id}>" if member_id is not None else "the bot"


def _fit(lines: list[str], empty: str) -> str:
    """Join lines into one description, cutting whole lines (with a note) past Discord's limit."""
    return limits.fit_lines(lines, _EMBED_TEXT_LIMIT, empty=empty)


# --- reviews --------------------------------------------------------------------------------


def review_text(job: Job) -> str:
    # Names the member and channel without pinging (the bot's default allows no mentions).
    return f"🔎 **Review** · job #{job.id} by <@{job.member_id}> in <#{job.channel_id}>. Approve to post it there."


def review_embed(job: Job, *, link: str | None = None) -> discord.Embed:
    embed = render.result_embed(job, link=link)
    embed.colour = _REVIEW_COLOR
    embed.add_field(name="Member", value=f"<@{job.member_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    return embed


def approved_text(job: Job, moderator_id: int, public_url: str | None) -> str:
    where = f" · [posted]({public_url})" if public_url else ""
    return f"✅ **Approved** by <@{moderator_id}> · job #{job.id} by <@{job.member_id}> in <#{job.channel_id}>{where}"


def rejected_text(job: Job, moderator_id: int, reason: str | None, refunded: int | None) -> str:
    why = f" Reason: {render.prompt_inline(reason, 300)}" if reason else ""
    money = f" {refunded} credits refunded." if refunded else " Credits kept."
    return f"❌ **Rejected** by <@{moderator_id}> · job #{job.id} by <@{job.member_id}>.{why}{money}"


def rejection_notice(job: Job, reason: str | None, refunded: int | None) -> str:
    """What the member is told privately (or in the channel, without the video, if their DMs are closed)."""
    why = f" The moderator's reason: {render.prompt_inline(reason, 500)}" if reason else ""
    money = (
        f" Your {refunded} credits were returned."
        if refunded
        else f" The {job.price} credits stay spent, because the video was rendered."
    )
    return (
        f"Your video for job #{job.id} (“{render.prompt_inline(job.spec.prompt, 80)}”) was not published: "
        f"a moderator rejected it.{why}{money}"
    )


def already_decided(job_id: int, state: ReviewState, moderator_id: int | None) -> str:
    return f"Job #{job_id} was already {state.value} by {_who(moderator_id)}."


# --- reports --------------------------------------------------------------------------------


def report_notice(job: Job, report: Report) -> tuple[str, discord.Embed]:
    members = "1 member" if report.votes == 1 else f"{report.votes} members"
    text = f"🚩 **Report** · job #{job.id} by <@{job.member_id}> in <#{report.channel_id}> · reported by **{members}**"
    embed = discord.Embed(
        title=f"Job #{job.id} · {job.spec.mode.label}",
        description=render.prompt_preview(job.spec.prompt),
        colour=_REPORT_COLOR,
        url=jump_url(report.guild_id, report.channel_id, report.message_id),
    )
    embed.add_field(name="Result", value=f"[Jump to the video]({embed.url})")
    return text, embed


def report_closed_text(job: Job, report: Report, verb: str, moderator_id: int) -> str:
    members = "1 member" if report.votes == 1 else f"{report.votes} members"
    return f"🚩 Report on job #{job.id} by <@{job.member_id}> ({members}): **{verb}** by <@{moderator_id}>."


def refusal_notice(job: Job) -> str:
    return (
        f"🛡️ The provider's moderation refused job #{job.id} by <@{job.member_id}> in <#{job.channel_id}>. "
        f"Its {job.price} credits were returned.\n{markdown.quote(render.truncate(job.spec.prompt, 300))}"
    )


# --- lists ----------------------------------------------------------------------------------


def _outcome(item: HistoryItem) -> str:
    job = item.job
    if job.state is not JobState.DELIVERED:
        returned = ", credits returned" if job.state.is_released else ""
        return f"{job.state.label}{returned}"
    parts = ["delivered"]
    if item.review is not None:
        parts.append(
            {"pending": "waiting for review", "approved": "approved", "rejected": "rejected"}[item.review.state]
        )
    if item.removal is not None:
        parts.append("deleted by the member" if item.removal.by_owner else f"removed by <@{item.removal.actor_id}>")
    if item.reports:
        parts.append(f"reported by {item.reports}")
    if item.refunded:
        parts.append("refunded")
    return ", ".join(parts)


def history_embed(member_id: int, page: Page[HistoryItem], blocked: bool) -> discord.Embed:
    lines = [
        f"**#{item.job.id}** {render.timestamp(item.job.accepted_at)} · {render.spec_line(item.job.spec)} · "
        f"{item.job.price} cr · {_outcome(item)}\n   {render.prompt_inline(item.job.spec.prompt, 100)}"
        for item in page.items
    ]
    embed = discord.Embed(
        title="History",
        description=f"<@{member_id}> · {page.total} jobs" + (" · 🚫 **blocked**" if blocked else "") + "\n\n"
        f"{_fit(lines, 'No jobs.')}",
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=f"Page {page.page} of {page.pages} · newest first")
    return render.fit_embed(embed)


_TYPED_DETAIL = frozenset({AuditAction.RULE_ADD, AuditAction.RULE_REMOVE, AuditAction.PROVIDER_REFUSED})


def audit_line(entry: AuditEntry) -> str:
    parts = [f"{render.timestamp(entry.created_at)} **{entry.action.label}** by {_who(entry.actor_id)}"]
    if entry.target_member_id is not None:
        parts.append(f"→ <@{entry.target_member_id}>")
    if entry.job_id is not None:
        parts.append(f"· job #{entry.job_id}")
    if entry.detail:
        # Rule values and provider messages are typed text; other details are the bot's own
        # (they name channels and roles as mentions, which must stay mentions).
        typed = entry.action in _TYPED_DETAIL
        parts.append(f"· {render.prompt_inline(entry.detail, 120) if typed else render.truncate(entry.detail, 120)}")
    if entry.reason:
        parts.append(f"· “{render.prompt_inline(entry.reason, 120)}”")
    return " ".join(parts)


def audit_embed(page: Page[AuditEntry], member_id: int | None) -> discord.Embed:
    about = f"About <@{member_id}> · " if member_id else ""
    embed = discord.Embed(
        title="Moderation log",
        description=f"{about}{page.total} entries\n\n" + _fit([audit_line(e) for e in page.items], "Nothing yet."),
        colour=discord.Colour.dark_grey(),
    )
    embed.set_footer(text=f"Page {page.page} of {page.pages} · newest first · entries cannot be edited")
    return render.fit_embed(embed)


def rules_embed(rules: list[PromptRule], global_words: int, global_patterns: int) -> discord.Embed:
    lines = [f"`#{rule.id}` {rule.kind.value}: {markdown.code(rule.value)} · by <@{rule.actor_id}>" for rule in rules]
    embed = discord.Embed(
        title="Prompt rules",
        description=_fit(lines, "This server has no rules of its own yet."),
        colour=discord.Colour.dark_grey(),
    )
    embed.add_field(
        name="Global list (bot config)", value=f"{global_words} words, {global_patterns} patterns", inline=False
    )
    embed.set_footer(text="Words match whole words in any case; patterns are RE2 regular expressions.")
    return render.fit_embed(embed)


def rule_kind_label(kind: RuleKind) -> str:
    return "word" if kind is RuleKind.WORD else "pattern"


def settings_embed(settings: ModerationSettings, pending: int) -> discord.Embed:
    embed = discord.Embed(title="Moderation settings", colour=discord.Colour.dark_grey())
    review = "on" if settings.review_enabled else "off"
    embed.add_field(name="Review mode", value=review)
    embed.add_field(
        name="Review channel",
        value=f"<#{settings.review_channel_id}>" if settings.review_channel_id else "not set",
    )
    embed.add_field(name="Refund on reject", value="yes" if settings.refund_on_reject else "no (default)")
    embed.add_field(
        name="Moderators' channel",
        value=f"<#{settings.mod_channel_id}>"
        if settings.mod_channel_id
        else "not set (reports go to the review channel)",
    )
    embed.add_field(name="Waiting for review", value=str(pending))
    return embed
