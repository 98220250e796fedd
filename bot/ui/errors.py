"""The one place an error becomes a reply.

Known errors (``UserFacingError`` and Discord's own check failures) become an ephemeral
message that says what to change. Anything else is a bug: it is logged with a short
reference code, and the member gets an apology with that code and nothing more.
"""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands

from bot.domain import discord_limits as limits
from bot.errors import UserFacingError

log = logging.getLogger(__name__)

_UNEXPECTED = (
    "Sorry, something went wrong on my side (reference `{ref}`). "
    "If credits were held for a job, they come back automatically when it does not finish. "
    "Give the reference to a server admin if this keeps happening."
)


def _unwrap(error: BaseException) -> BaseException:
    while isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError) and error.__cause__:
        error = error.__cause__
    original = getattr(error, "original", None)
    return original if isinstance(original, BaseException) and not isinstance(error, UserFacingError) else error


def message_for(error: BaseException) -> str | None:
    """The member-facing text for an expected error, or None when it is a bug."""
    error = _unwrap(error)
    if isinstance(error, UserFacingError):
        return error.message
    if isinstance(error, app_commands.MissingPermissions):
        needed = ", ".join(name.replace("_", " ").title() for name in error.missing_permissions)
        return f"You need the {needed} permission to do that."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} seconds."
    if isinstance(error, app_commands.CheckFailure):
        return "You can't use this command here."
    return None


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    text = message_for(error)
    if text is None:
        ref = secrets.token_hex(3).upper()
        command = interaction.command.qualified_name if interaction.command else "component"
        log.error(
            "unexpected error ref=%s command=%s guild=%s user=%s",
            ref,
            command,
            interaction.guild_id,
            interaction.user.id,
            exc_info=_unwrap(error),
        )
        text = _UNEXPECTED.format(ref=ref)
    # A refusal may name things the member gave (a file name, a list of channels): never let its
    # length make Discord refuse the answer, which would leave the member with no answer at all.
    text = limits.truncate(text, limits.CONTENT)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not send an error reply to user=%s", interaction.user.id)


def install_error_handler(tree: app_commands.CommandTree[discord.Client]) -> None:
    tree.on_error = report_error  # type: ignore[method-assign]
