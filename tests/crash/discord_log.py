"""What the simulated Discord accepted, kept on disk so it outlives the bot's process.

SimCord lives inside the bot's process, so a SIGKILL wipes the simulated channel too. A real
Discord would keep every message it accepted, and "posted twice" is judged against that. So
every message the bot creates, edits or deletes is appended here and fsync'd *inside* the
simulated Discord, before the bot's HTTP call returns: a line on disk means Discord accepted
it, even if the bot died before it heard the answer. A line torn by a kill mid-write was never
acknowledged to the bot either, so it counts as never accepted and is cut off on the next start.

On restart ``reseed`` puts those messages back into the new simulated channel with their
original ids, so the bot's own history scan (``find_delivery``) sees what a real channel
would show it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simcord.backend.models import Message

_EPHEMERAL = 1 << 6
RESULT_MARKER = re.compile(r"^wan:reroll:(\d+)$")
NOTICE_MARKER = re.compile(r"your job \*\*#(\d+)\*\* (?:failed|was refused|timed out)")


@dataclass
class LoggedMessage:
    id: int
    channel_id: int
    author_id: int
    content: str
    timestamp: str
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: int = 0
    created_by_run: int = 0
    flags: int = 0  # a result card is a Components V2 message: the flag must survive a re-seed

    def custom_ids(self) -> Iterator[str]:
        stack: list[Any] = list(self.components)
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("custom_id"), str):
                    yield item["custom_id"]
                stack.extend(item.get("components") or [])

    @property
    def result_for(self) -> int | None:
        """The job this message delivers (its Reroll button names it), if it is a result."""
        for custom_id in self.custom_ids():
            match = RESULT_MARKER.match(custom_id)
            if match:
                return int(match.group(1))
        return None

    @property
    def notice_for(self) -> int | None:
        """The job this message tells ended without a video, if it is such a notice."""
        match = NOTICE_MARKER.search(self.content)
        return int(match.group(1)) if match else None


def read(path: Path) -> list[LoggedMessage]:
    """The channel as Discord holds it now: creates, then edits and deletes applied in order."""
    messages: dict[int, LoggedMessage] = {}
    for entry in _entries(path):
        op, message_id = entry["op"], int(entry["id"])
        if op == "create":
            messages[message_id] = LoggedMessage(
                id=message_id,
                channel_id=int(entry["channel_id"]),
                author_id=int(entry["author_id"]),
                content=entry["content"],
                timestamp=entry["timestamp"],
                embeds=entry["embeds"],
                components=entry["components"],
                attachments=entry["attachments"],
                created_by_run=entry["run"],
                flags=entry.get("flags", 0),
            )
        elif op == "edit" and message_id in messages:
            messages[message_id].content = entry["content"]
            messages[message_id].embeds = entry["embeds"]
            messages[message_id].components = entry["components"]
            messages[message_id].flags = entry.get("flags", 0)
        elif op == "delete":
            messages.pop(message_id, None)
    return sorted(messages.values(), key=lambda message: message.id)


def _entries(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    lines = path.read_bytes().split(b"\n")
    # The last piece is empty after a complete write; anything else there was torn by a kill.
    for line in lines[:-1]:
        yield json.loads(line)


def cut_torn_tail(path: Path) -> None:
    """Drop a last line a kill interrupted, so appends start on a line of their own."""
    if not path.exists():
        return
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep != len(data):
        with path.open("r+b") as handle:
            handle.truncate(keep)
            os.fsync(handle.fileno())


class Recorder:
    """Wraps a SimCord backend so each change to a bot message is on disk before the bot hears back."""

    def __init__(self, backend: Any, path: Path, *, run: int, latency: float = 0.0) -> None:
        self.backend = backend
        self.path = path
        self.run = run
        # Discord answers after the message is stored. Sleeping here, with the whole process
        # frozen, makes kills land between "Discord has it" and "the bot knows" as often as
        # a slow Discord would.
        self.latency = latency
        cut_torn_tail(path)
        self._file = path.open("ab")

    def install(self) -> None:
        backend = self.backend
        commit, edit, delete = backend.commit_message, backend.edit_message, backend.delete_message

        def commit_message(message: Message, **options: Any) -> Message:
            stored = commit(message, **options)
            if self._tracked(stored) and stored.id in backend.messages.get(stored.channel_id, {}):
                self._append("create", stored)
            return stored

        def edit_message(channel_id: int, message_id: int, fields: dict[str, Any]) -> Message:
            edited = edit(channel_id, message_id, fields)
            if self._tracked(edited):
                self._append("edit", edited)
            return edited

        def delete_message(channel_id: int, message_id: int) -> None:
            message = backend.messages.get(channel_id, {}).get(message_id)
            delete(channel_id, message_id)
            if message is not None and self._tracked(message):
                self._write({"op": "delete", "id": message_id})

        backend.commit_message = commit_message
        backend.edit_message = edit_message
        backend.delete_message = delete_message

    def _tracked(self, message: Message) -> bool:
        return message.author_id == self.backend.bot_user.id and not message.flags & _EPHEMERAL

    def _append(self, op: str, message: Message) -> None:
        self._write(
            {
                "op": op,
                "run": self.run,
                "id": message.id,
                "channel_id": message.channel_id,
                "author_id": message.author_id,
                "content": message.content,
                "timestamp": message.timestamp,
                "embeds": message.embeds,
                "components": message.components,
                "attachments": len(message.attachments),
                "flags": message.flags,
            }
        )

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, default=str).encode() + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        if self.latency:
            time.sleep(self.latency)


def reseed(backend: Any, path: Path) -> int:
    """Put the bot's earlier messages back into a fresh simulated channel; returns how many."""
    count = 0
    for logged in read(path):
        backend.reserve_id(logged.id)
        backend.messages.setdefault(logged.channel_id, {})[logged.id] = Message(
            id=logged.id,
            channel_id=logged.channel_id,
            author_id=backend.bot_user.id,
            content=logged.content,
            timestamp=logged.timestamp,
            embeds=logged.embeds,
            components=logged.components,
            flags=logged.flags,
        )
        count += 1
    return count
