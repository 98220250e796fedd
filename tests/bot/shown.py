"""Read "the result" (or a review message, or a report notice) from either style, the way a
member sees it: a classic message's content and embed, or a Components V2 card's parts.

``shown(message)`` has the embed's attribute names (title, url, description, fields, footer),
plus ``content`` (the head line), ``media`` (what the card's gallery shows) and ``buttons``, so an
assertion reads the same for both styles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import discord

from bot.ui.card import Part
from bot.ui.channels import walk_components

_TITLE = re.compile(r"^### (?:\[(?P<linked>.+)\]\((?P<url>[^)]+)\)|(?P<plain>.+))$")
_FIELD = re.compile(r"^\*\*(?P<name>[^*]+)\*\* (?P<value>.+)$")


@dataclass(frozen=True)
class Field:
    name: str
    value: str


@dataclass(frozen=True)
class Footer:
    text: str | None


@dataclass(frozen=True)
class Shown:
    card: bool
    content: str
    title: str | None = None
    url: str | None = None
    description: str | None = None
    fields: list[Field] = field(default_factory=list)
    footer: Footer = Footer(None)
    media: list[str] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)  # custom_ids, in order


def _buttons(message: discord.Message) -> list[str]:
    return [c.custom_id for c in walk_components(message.components) if isinstance(getattr(c, "custom_id", None), str)]


def _card(message: discord.Message) -> Shown:
    # What SimCord already refused to store otherwise; said again so a reader sees the rule.
    assert not message.content and not message.embeds, "a Components V2 message carries no content or embeds"
    [container] = message.components
    assert isinstance(container, discord.components.Container)
    texts = {
        c.id: c.content for c in walk_components(message.components) if isinstance(c, discord.components.TextDisplay)
    }
    media = [
        item.media.url
        for c in walk_components(message.components)
        if isinstance(c, discord.components.MediaGalleryComponent)
        for item in c.items
    ]
    title = url = None
    if Part.TITLE in texts:
        match = _TITLE.match(texts[Part.TITLE])
        assert match, texts[Part.TITLE]
        title, url = match["linked"] or match["plain"], match["url"]
    fields = []
    for line in texts.get(Part.FIELDS, "").splitlines():
        for part in line.split(" · "):
            found = _FIELD.match(part)
            assert found, f"not a field: {part!r}"
            fields.append(Field(found["name"], found["value"]))
    footer = texts.get(Part.FOOTER)
    return Shown(
        card=True,
        content=texts[Part.HEAD],
        title=title,
        url=url,
        description=texts.get(Part.PROMPT),
        fields=fields,
        footer=Footer(footer.removeprefix("-# ") if footer else None),
        media=media,
        buttons=_buttons(message),
    )


def shown(message: discord.Message) -> Shown:
    if message.flags.components_v2:
        return _card(message)
    embed = message.embeds[0] if message.embeds else None
    media = [attachment.url for attachment in message.attachments]  # shown inline above the embed
    if embed is None:
        return Shown(card=False, content=message.content, media=media, buttons=_buttons(message))
    return Shown(
        card=False,
        content=message.content,
        title=embed.title,
        url=embed.url,
        description=embed.description,
        fields=[Field(f.name or "", f.value or "") for f in embed.fields],
        footer=Footer(embed.footer.text),
        media=media,
        buttons=_buttons(message),
    )
