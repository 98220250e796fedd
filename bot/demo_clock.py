"""The browser demo's clock: virtual time passes by itself while a person watches, in small steps
that never overlap one of their actions, and the page is republished only when something changed.

Three things SimCord's preview does that a naive "advance, refresh, repeat" loop trips over:

- One operation at a time per Env. A click that arrives while ``advance_time`` runs is refused
  ("operation overlaps active advance_time"), the page gets HTTP 400 and may stay on "Action
  outcome uncertain". So clock steps and browser actions take turns on one lock.
- Every republish bumps the page's revision, and a click made on an older revision is refused as
  stale. The page learns a new revision by polling (every 0.5 s), so each refresh opens a window in
  which clicks fail. So the clock refreshes only when a message changed during its step.
- Renders do change messages (the progress line), so that window still opens while they run. A
  click whose page is behind *only* by revisions this clock published is admitted at the current
  revision: the person clicked what they saw, and Discord itself has no revisions (a click reaches
  the bot while the button exists; SimCord still refuses one whose component is gone).

The hook is ``Preview._action``, the one coroutine SimCord's page server awaits per action; it is
private, hence the ``<3.3`` bound on SimCord in the ``browser`` extra and the check in ``install``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable, Mapping
from typing import Any

log = logging.getLogger(__name__)

# Real seconds between clock steps: short enough that progress looks live, long enough to stay idle.
STEP_SECONDS = 0.25
# Clock-published revisions remembered per page (a page far behind just gets the usual stale refusal).
_REMEMBERED = 256


class SerializedClock:
    def __init__(
        self,
        env: Any,
        preview: Any,
        *,
        speed: float,
        fingerprint: Callable[[], Hashable],
        step_seconds: float = STEP_SECONDS,
    ) -> None:
        self._env = env
        self._preview = preview
        self._speed = speed
        self._fingerprint = fingerprint
        self._step_seconds = step_seconds
        self._turn = asyncio.Lock()
        self._seen: Hashable = None
        self._clock_revisions: dict[str, list[int]] = {}
        self._rebased: dict[str, int] = {}
        self.steps = 0
        self.refreshes = 0
        self.rebased_actions = 0
        self.failed_steps = 0

    def install(self) -> None:
        """Route every browser action through the clock's lock (and the stale-revision rebase)."""
        original = getattr(self._preview, "_action", None)
        if not callable(original):
            raise RuntimeError("this SimCord preview has no _action hook; the browser demo supports SimCord 3.2")

        async def serialized(context_id: Any, body: Any) -> Any:
            # What an action changes reaches its own page with its receipt, but not the other open pages
            # (another tab, another viewer): the next clock step sees the change and republishes them all.
            async with self._turn:
                return await original(context_id, self._rebase(context_id, body))

        self._preview._action = serialized
        self._seen = self._fingerprint()

    def _rebase(self, context_id: Any, body: Any) -> Any:
        if not isinstance(body, Mapping) or not isinstance(context_id, str):
            return body
        request_id = body.get("request_id")
        if isinstance(request_id, str) and request_id in self._rebased:
            # A replay of a rebased request must match what was admitted.
            return {**body, "published_revision": self._rebased[request_id]}
        page = self._preview._pages.get(context_id)
        seen, sequence = body.get("published_revision"), body.get("sequence")
        if page is None or type(seen) is not int or type(sequence) is not int or not isinstance(request_id, str):
            return body
        if sequence != page.last_sequence + 1 or seen >= page.revision:
            return body
        ours = self._clock_revisions.get(context_id, [])
        if not set(range(seen + 1, page.revision + 1)) <= set(ours):
            return body
        self.rebased_actions += 1
        self._rebased[request_id] = page.revision
        if len(self._rebased) > _REMEMBERED:
            self._rebased.pop(next(iter(self._rebased)))
        return {**body, "published_revision": page.revision}

    async def step(self) -> bool:
        """Advance one step of virtual time; republish if a message changed. True if it refreshed."""
        async with self._turn:
            self.steps += 1
            await self._env.advance_time(self._step_seconds * self._speed)
            now = self._fingerprint()
            if now == self._seen:
                return False
            await self._preview.refresh()
            self._seen = now
            self.refreshes += 1
            for page_id, page in self._preview._pages.items():
                revisions = self._clock_revisions.setdefault(page_id, [])
                revisions.append(page.revision)
                del revisions[:-_REMEMBERED]
            return True

    async def run(self) -> None:
        """Step until cancelled. A failed step is logged and the clock goes on: one bad render must not
        freeze the page for the person watching."""
        while True:
            await asyncio.sleep(self._step_seconds)
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failed_steps += 1
                log.exception("demo clock step failed; the clock goes on")
