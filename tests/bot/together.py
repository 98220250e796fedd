"""Two members pressing the same button at the same moment, on SimCord.

SimCord runs one actor operation at a time (``asyncio.gather`` of two ``click`` calls is refused
as overlapping), so this does what one ``click`` does for each press, emitting both
INTERACTION_CREATE events before letting the simulated Discord settle once: the bot receives
both interactions together and runs both callbacks concurrently, as it would in production.
It uses SimCord internals (version 3.2); ``click`` is the public equivalent for a single press.
"""

from __future__ import annotations

from typing import Any

import discord
import simcord
from simcord import interactions as sim_interactions
from simcord.actors import _find_component, _visible_message
from simcord.backend import serializers
from simcord.enums import ComponentType, InteractionType
from simcord.results import InteractionResult


async def click_together(env: simcord.Env, presses: list[tuple[Any, discord.Message, str]]) -> list[InteractionResult]:
    """Each press is (member actor, message, button custom_id); returns one result per press."""
    backend = env.backend
    env._begin_operation("click")
    try:
        records = []
        for actor, message, custom_id in presses:
            stored = _visible_message(actor, message)
            button = _find_component(stored.components, types=(ComponentType.BUTTON,), custom_id=custom_id, label=None)
            data: dict[str, Any] = {"custom_id": custom_id, "component_type": ComponentType.BUTTON}
            if button.get("id") is not None:
                data["id"] = button["id"]
            record, payload = sim_interactions.base_payload(
                backend,
                type=InteractionType.MESSAGE_COMPONENT,
                channel_id=stored.channel_id,
                guild_id=actor.guild.id,
                user_id=actor.id,
                data=data,
            )
            payload["message"] = dict(serializers.message_payload(backend, stored))
            record.source_message_id = stored.id
            env._notify_dispatch_observers(record)
            backend.emit("INTERACTION_CREATE", payload)
            records.append(record)
        await env._settle_internal(dispatch="INTERACTION_CREATE")
        return [InteractionResult(env, record) for record in records]
    finally:
        env._end_operation()
