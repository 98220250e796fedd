"""Who may moderate, checked on the server side of every moderation command and button.

Discord's ``default_permissions`` only decides who *sees* a command by default: a server's
admins can override it per member, role or channel in the server settings. So every command,
button and menu that moderates checks the member's real permissions again here.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.errors import NotPermitted


class NotAllowed(NotPermitted, app_commands.CheckFailure):
    """A refusal raised from a check: an app-command error (so the tree's handler sees it) that
    carries a member-facing message (so the handler shows it as is)."""


def is_moderator(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return bool(permissions.manage_messages or permissions.administrator)


def is_manager(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return bool(permissions.manage_guild or permissions.administrator)


def require_moderator(interaction: discord.Interaction) -> None:
    if interaction.guild_id is None:
        raise NotAllowed("Moderation works in a server, not in direct messages.")
    if not is_moderator(interaction):
        raise NotAllowed(
            "Only moderators (the Manage Messages permission) can do that. "
            "Being allowed to use the command in the server settings is not enough."
        )


def require_admin(interaction: discord.Interaction) -> tuple[int, int]:
    """The server and the admin acting, once Manage Server is confirmed; refuses everyone else."""
    if interaction.guild_id is None:
        raise NotAllowed("Server settings work in a server, not in direct messages.")
    if not is_manager(interaction):
        raise NotAllowed(
            "`/wan-admin` needs the Manage Server permission. Server settings may show the command to "
            "you, but the bot only takes these changes from people who can manage the server."
        )
    return interaction.guild_id, interaction.user.id
