"""/wan-mod: blocks, history, refunds, the audit log and prompt rules, plus the "Remove video"
message menu. (Review settings are admin commands: ``bot.exts.review._settings``.)

Discord shows these by default only to members with Manage Messages, but a server's admins can
override that per member or role; so the cog checks the member's real permissions on every
invocation (``interaction_check``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.domain import markdown
from bot.domain.moderation import RuleKind
from bot.errors import InvalidRequest
from bot.exts.moderation._pages import history_message, log_message
from bot.exts.reports._views import remove_result, result_job_id
from bot.services.lookup import MAX_CHOICES
from bot.ui import modrender
from bot.ui.answers import send_ephemeral
from bot.ui.context import bot_of
from bot.ui.permissions import is_moderator, require_moderator
from bot.ui.reason import REASON_MAX, ReasonModal

if TYPE_CHECKING:
    from bot.app import WanBot

log = logging.getLogger(__name__)

_REASON = "Why (kept in the moderation log)"
_MOD_PERMISSIONS = discord.Permissions(manage_messages=True)
_CHOICE_NAME_MAX = 100  # Discord's cap on an autocomplete choice's name

Choices = list[app_commands.Choice[int]]


def _choice_name(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _CHOICE_NAME_MAX else text[: _CHOICE_NAME_MAX - 1] + "…"


def _reason(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > REASON_MAX:
        raise InvalidRequest(f"The reason can be at most {REASON_MAX} characters. Shorten it.")
    return text or None


def remove_form(job_id: int, channel_id: int, message_id: int) -> ReasonModal:
    """Asks for an optional reason, then deletes the result and records the removal."""

    async def remove(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)  # deleting takes a round trip
        await remove_result(
            bot_of(interaction),
            interaction,
            job_id,
            channel_id=channel_id,
            message_id=message_id,
            reason=_reason(text),
        )
        await send_ephemeral(interaction, f"Removed the video of job #{job_id}.")

    return ReasonModal(title="Remove this video", label=_REASON + "; optional", on_reason=remove)


class ModerationCog(commands.Cog):
    wan_mod = app_commands.Group(
        name="wan-mod",
        description="Moderate videos: blocks, history, refunds, the log, prompt rules",
        default_permissions=_MOD_PERMISSIONS,
        guild_only=True,
    )
    rules = app_commands.Group(name="rules", description="Blocked words and patterns for prompts", parent=wan_mod)

    def __init__(self, bot: WanBot) -> None:
        self.bot = bot
        menu = app_commands.ContextMenu(name="Remove video", callback=self.remove_video)
        menu.default_permissions = _MOD_PERMISSIONS
        menu.guild_only = True
        self.menu = menu

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        # Runs before every /wan-mod command: the server-side half of the permission check.
        require_moderator(interaction)
        return True

    def _guild(self, interaction: discord.Interaction) -> int:
        assert interaction.guild_id is not None
        return interaction.guild_id

    # --- autocomplete ------------------------------------------------------------------------
    # Autocomplete skips interaction_check, so each one checks the member itself: prompts and job
    # numbers are offered to moderators only.

    async def _refundable_jobs(self, interaction: discord.Interaction, current: str) -> Choices:
        if interaction.guild_id is None or not is_moderator(interaction):
            return []
        jobs = await self.bot.services.lookup.refundable(interaction.guild_id, current)
        return [
            app_commands.Choice(
                name=_choice_name(f"#{job.job_id} · {job.price} credits · {job.prompt}"), value=job.job_id
            )
            for job in jobs
        ]

    async def _history_pages(self, interaction: discord.Interaction, current: str) -> Choices:
        member = getattr(interaction.namespace, "member", None)
        if interaction.guild_id is None or member is None or not is_moderator(interaction):
            return []
        ids = await self.bot.services.lookup.member_job_ids(interaction.guild_id, member.id, 10 * MAX_CHOICES)
        pages = [ids[start : start + 10] for start in range(0, len(ids), 10)]
        return [
            app_commands.Choice(name=f"Page {number}: jobs #{page[0]} to #{page[-1]}", value=number)
            for number, page in enumerate(pages, start=1)
            if current.strip() in (str(number), "")
            or any(str(job_id).startswith(current.strip("# ")) for job_id in page)
        ][:MAX_CHOICES]

    async def _rule_numbers(self, interaction: discord.Interaction, current: str) -> Choices:
        if interaction.guild_id is None or not is_moderator(interaction):
            return []
        typed = current.strip("# ").lower()
        rules = await self.bot.services.rules.rules(interaction.guild_id)
        matching = [
            rule for rule in rules if not typed or str(rule.id).startswith(typed) or typed in rule.value.lower()
        ]
        return [
            app_commands.Choice(name=_choice_name(f"#{rule.id} · {rule.kind.value} · {rule.value}"), value=rule.id)
            for rule in matching[:MAX_CHOICES]
        ]

    # --- members ----------------------------------------------------------------------------

    @wan_mod.command(name="block", description="Stop a member from making videos here")
    @app_commands.describe(member="Who to block", reason=_REASON)
    async def block(self, interaction: discord.Interaction, member: discord.User, reason: str | None = None) -> None:
        await self.bot.services.moderation.block(
            self._guild(interaction), member.id, actor_id=interaction.user.id, reason=_reason(reason)
        )
        await send_ephemeral(
            interaction, f"Blocked {member.mention}: their next `/video`, reroll or remix is refused before any charge."
        )

    @wan_mod.command(name="unblock", description="Let a blocked member make videos again")
    @app_commands.describe(member="Who to unblock", reason=_REASON)
    async def unblock(self, interaction: discord.Interaction, member: discord.User, reason: str | None = None) -> None:
        await self.bot.services.moderation.unblock(
            self._guild(interaction), member.id, actor_id=interaction.user.id, reason=_reason(reason)
        )
        await send_ephemeral(interaction, f"Unblocked {member.mention}.")

    @wan_mod.command(name="history", description="A member's jobs: prompts, outcomes, reviews, reports, removals")
    @app_commands.describe(member="Whose history", page="Page (10 jobs each, newest first)")
    @app_commands.autocomplete(page=_history_pages)
    async def history(
        self, interaction: discord.Interaction, member: discord.User, page: app_commands.Range[int, 1] = 1
    ) -> None:
        embed, view = await history_message(self.bot, self._guild(interaction), member.id, page)
        if view is None:
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    @wan_mod.command(name="refund", description="Give a delivered video's credits back (once per job)")
    @app_commands.describe(job="The job number (#…)", reason=_REASON)
    @app_commands.autocomplete(job=_refundable_jobs)
    async def refund(
        self, interaction: discord.Interaction, job: app_commands.Range[int, 1], reason: str | None = None
    ) -> None:
        refunded, amount = await self.bot.services.moderation.refund(
            self._guild(interaction), job, actor_id=interaction.user.id, reason=_reason(reason)
        )
        await send_ephemeral(
            interaction, f"Refunded job #{refunded.id}: {amount} credits back to <@{refunded.member_id}>."
        )

    @wan_mod.command(name="log", description="The moderation log, newest first")
    @app_commands.describe(page="Page (15 entries each)", member="Only entries by or about this member")
    async def log(
        self,
        interaction: discord.Interaction,
        page: app_commands.Range[int, 1] = 1,
        member: discord.User | None = None,
    ) -> None:
        embed, view = await log_message(self.bot, self._guild(interaction), page, member.id if member else None)
        if view is None:
            await interaction.response.send_message(embed=embed, ephemeral=True)
        else:
            await interaction.response.send_message(embed=embed, view=view, ephemeral=True)

    # --- prompt rules -----------------------------------------------------------------------

    @rules.command(name="add", description="Block a word or a pattern in prompts")
    @app_commands.describe(
        kind="A whole word (any case) or an RE2 regular expression",
        value="The word, phrase or pattern",
        reason=_REASON,
    )
    @app_commands.choices(kind=[app_commands.Choice(name=kind.value, value=kind.value) for kind in RuleKind])
    async def rules_add(
        self, interaction: discord.Interaction, kind: str, value: str, reason: str | None = None
    ) -> None:
        rule = await self.bot.services.rules.add(
            self._guild(interaction), RuleKind(kind), value, actor_id=interaction.user.id, reason=_reason(reason)
        )
        await send_ephemeral(
            interaction,
            f"Added rule #{rule.id} ({rule.kind.value}): {markdown.code(rule.value)}. It applies to the next prompt.",
        )

    @rules.command(name="remove", description="Remove one of this server's prompt rules")
    @app_commands.describe(rule="The rule number shown by /wan-mod rules list", reason=_REASON)
    @app_commands.autocomplete(rule=_rule_numbers)
    async def rules_remove(
        self, interaction: discord.Interaction, rule: app_commands.Range[int, 1], reason: str | None = None
    ) -> None:
        removed = await self.bot.services.rules.remove(
            self._guild(interaction), rule, actor_id=interaction.user.id, reason=_reason(reason)
        )
        await send_ephemeral(
            interaction, f"Removed rule #{removed.id} ({removed.kind.value}): {markdown.code(removed.value)}."
        )

    @rules.command(name="list", description="This server's prompt rules")
    async def rules_list(self, interaction: discord.Interaction) -> None:
        rules = await self.bot.services.rules.rules(self._guild(interaction))
        moderation = self.bot.config.moderation
        embed = modrender.rules_embed(rules, len(moderation.blocked_words), len(moderation.blocked_patterns))
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @rules.command(name="test", description="Check a prompt against the rules without making anything")
    @app_commands.describe(prompt="The prompt to check")
    async def rules_test(self, interaction: discord.Interaction, prompt: str) -> None:
        hit = await self.bot.services.rules.check_prompt(self._guild(interaction), prompt)
        if hit is None:
            await send_ephemeral(interaction, "No rule refuses that prompt.")
            return
        which = f"rule #{hit.rule_id}" if hit.rule_id is not None else "the global list in the bot's config"
        await send_ephemeral(
            interaction,
            f"Refused by {which} ({hit.kind.value} {markdown.code(hit.value)}). "
            f"Members are told only: “{hit.member_message}”",
        )

    # --- the message menu -------------------------------------------------------------------

    async def remove_video(self, interaction: discord.Interaction, message: discord.Message) -> None:
        require_moderator(interaction)
        job_id = result_job_id(self.bot, message)
        if job_id is None:
            raise InvalidRequest("That message is not a video posted by this bot. Use “Remove video” on a result.")
        await interaction.response.send_modal(remove_form(job_id, message.channel.id, message.id))
