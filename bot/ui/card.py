"""Results, review messages and report notices as one Components V2 message: the "card".

A card is a container holding, in order: the head line (who and what; it carries the mention),
the video in a media gallery, the title, the prompt, the settings and cost, a footer, and the
buttons. The same message in the classic style is the head line as content, the embed, and the
buttons as a classic view. Both are built from the same head, embed and buttons, so the two
styles say the same thing; ``[delivery] result_style`` picks one for new messages, and an
existing message is always edited in the style it was posted in (Discord cannot turn a
Components V2 message back into a classic one).

Each part has a fixed component id (``Part``), so a card can be read back part by part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import IntEnum
from typing import Any

import discord

from bot.config import ResultStyle
from bot.domain import markdown
from bot.ui import render

__all__ = ["Part", "Shown", "card_view", "edit", "is_card", "kept_video", "send", "style_of"]


# A linked title repeats the provider's link the head line already gives. Discord allows 4,000
# characters of text in one card (the escaped prompt takes at most 600), so a longer link is
# given once only.
_TITLE_LINK_MAX = 1000


class Part(IntEnum):
    """The component id of each part of a card (unique within the message, as Discord requires)."""

    HEAD = 1
    MEDIA = 2
    TITLE = 3
    PROMPT = 4
    FIELDS = 5
    FOOTER = 6
    BUTTONS = 7


@dataclass(frozen=True, slots=True)
class Shown:
    """What one result-like message shows, whatever its style.

    ``head``: the first line (the mention lives here, so allowed_mentions decide who is pinged).
    ``embed``: title, link, fields and footer, from the existing render helpers.
    ``prompt``: the member's prompt, shown escaped in a card (None: no prompt part).
    ``buttons``: the persistent buttons (DynamicItems), in one action row.
    ``filename``: the uploaded video, shown in the card's media gallery as attachment://filename.
    """

    head: str
    embed: discord.Embed | None = None
    _: KW_ONLY
    prompt: str | None = None
    buttons: Sequence[discord.ui.Item[Any]] = ()
    filename: str | None = None


def is_card(message: discord.Message | None) -> bool:
    return message is not None and message.flags.components_v2


def style_of(message: discord.Message | None, default: ResultStyle) -> ResultStyle:
    """The style an existing message must be edited in; ``default`` when it is not known."""
    if message is None:
        return default
    return "card" if is_card(message) else "classic"


def _escaped(text: str) -> str:
    """Member text shown as typed: markdown in a prompt must not restyle or fake parts of the card."""
    return markdown.escape(text)


def _fields_text(embed: discord.Embed) -> str:
    """Inline fields on one line joined by " · "; a field that is not inline gets its own line."""
    lines: list[str] = []
    inline: list[str] = []
    for field in embed.fields:
        part = f"**{field.name}** {field.value}"
        if field.inline:
            inline.append(part)
            continue
        if inline:
            lines.append(" · ".join(inline))
            inline = []
        lines.append(part)
    if inline:
        lines.append(" · ".join(inline))
    return "\n".join(lines)


def card_view(shown: Shown) -> discord.ui.LayoutView:
    embed = shown.embed
    parts: list[discord.ui.Item[Any]] = [discord.ui.TextDisplay(shown.head, id=Part.HEAD)]
    if shown.filename is not None:
        video = discord.MediaGalleryItem(f"attachment://{shown.filename}")
        parts.append(discord.ui.MediaGallery(video, id=Part.MEDIA))
    if embed is not None and embed.title:
        # A result too large to upload links its title to the video, as the classic embed does;
        # a very long link is already in the head line, and twice it could pass the text limit.
        linked = embed.url is not None and len(embed.url) <= _TITLE_LINK_MAX
        title = f"[{embed.title}]({embed.url})" if linked else embed.title
        parts.append(discord.ui.TextDisplay(f"### {title}", id=Part.TITLE))
    if shown.prompt:
        prompt = _escaped(render.truncate(shown.prompt, render.PROMPT_PREVIEW_CHARS))
        parts.append(discord.ui.TextDisplay(prompt, id=Part.PROMPT))
    if embed is not None and embed.fields:
        parts.append(discord.ui.Separator())
        parts.append(discord.ui.TextDisplay(_fields_text(embed), id=Part.FIELDS))
    if embed is not None and embed.footer.text:
        parts.append(discord.ui.TextDisplay(f"-# {embed.footer.text}", id=Part.FOOTER))
    if shown.buttons:
        parts.append(discord.ui.ActionRow(*shown.buttons, id=Part.BUTTONS))
    colour = embed.colour if embed is not None else None
    view = discord.ui.LayoutView(timeout=None)
    view.add_item(discord.ui.Container(*parts, accent_colour=colour))
    return view


def _classic_view(shown: Shown) -> discord.ui.View | None:
    if not shown.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for item in shown.buttons:
        view.add_item(item)
    return view


def send(style: ResultStyle, shown: Shown) -> dict[str, Any]:
    """Keyword arguments for ``channel.send`` (add file, allowed_mentions, nonce as before)."""
    if style == "card":
        return {"view": card_view(shown)}
    extra: dict[str, Any] = {"embed": shown.embed} if shown.embed is not None else {}
    view = _classic_view(shown)
    return {"content": shown.head, **extra, **({"view": view} if view is not None else {})}


def edit(style: ResultStyle, shown: Shown) -> dict[str, Any]:
    """Keyword arguments for ``message.edit``: the whole message replaced, buttons only if given."""
    if style == "card":
        # content and embeds cleared: a Components V2 message may carry neither.
        return {"content": None, "embeds": [], "view": card_view(shown)}
    return {"content": shown.head, "embed": shown.embed, "view": _classic_view(shown)}


def kept_video(message: discord.Message | None) -> str | None:
    """The filename of the video a posted message already carries (kept on edit), if any."""
    if message is None or not message.attachments:
        return None
    return message.attachments[0].filename
