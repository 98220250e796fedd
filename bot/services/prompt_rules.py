"""Prompt rules per server (in SQLite) plus the global list (in the config), and the acceptance
checks that refuse blocked members and blocked prompts before anything is charged."""

from __future__ import annotations

import logging

from bot.domain.clock import Clock
from bot.domain.moderation import AuditAction, PromptRule, RuleKind
from bot.domain.rules import MAX_RULES_PER_GUILD, RuleHit, RuleSet, first_hit, validate_rule
from bot.domain.validation import refuse_nul, validate_reason
from bot.errors import Conflict, InvalidRequest, NotFound, NotPermitted
from bot.services.jobs import JobRequest
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, IntegrityError
from bot.storage.moderation import ModerationRepository

log = logging.getLogger(__name__)


class PromptRuleService:
    def __init__(
        self,
        *,
        db: Database,
        repo: ModerationRepository,
        audit: AuditRepository,
        global_rules: RuleSet,
        clock: Clock,
    ) -> None:
        self.db = db
        self.repo = repo
        self.audit = audit
        self.global_rules = global_rules
        self.clock = clock
        # Compiled per server, kept while the repository's cached rules are the same tuple: the
        # repository's cache is dropped by the transaction that changes them (every process hears it).
        self._compiled: dict[int, tuple[tuple[PromptRule, ...], RuleSet]] = {}

    async def rules(self, guild_id: int) -> list[PromptRule]:
        return await self.repo.rules(guild_id)

    async def _rule_set(self, guild_id: int) -> RuleSet:
        rules = await self.repo.cached_rules(guild_id)
        compiled = self._compiled.get(guild_id)
        if compiled is None or compiled[0] is not rules:
            compiled = (rules, RuleSet.from_rules("server", list(rules)))
            self._compiled[guild_id] = compiled
        return compiled[1]

    async def check_prompt(self, guild_id: int, prompt: str) -> RuleHit | None:
        """The rule that refuses this prompt (global list first), or None."""
        return first_hit(prompt, (self.global_rules, await self._rule_set(guild_id)))

    async def add(self, guild_id: int, kind: RuleKind, value: str, *, actor_id: int, reason: str | None) -> PromptRule:
        validate_reason(reason)
        stored = validate_rule(kind, refuse_nul(value, f"The {kind.value}"))
        now = self.clock()
        async with self.db.transaction() as tx:
            if await self.repo.find_rule_in(tx, guild_id, kind, stored) is not None:
                raise Conflict(f"That {kind.value} is already blocked here.")
            if await self.repo.count_rules_in(tx, guild_id) >= MAX_RULES_PER_GUILD:
                raise InvalidRequest(
                    f"This server already has {MAX_RULES_PER_GUILD} rules, the most it can have. "
                    "Remove some, or combine words into one pattern."
                )
            try:
                rule_id = await self.repo.add_rule_in(tx, guild_id, kind, stored, actor_id, now)
            except IntegrityError:
                raise Conflict(f"That {kind.value} is already blocked here.") from None
            await self.audit.record_in(
                tx,
                guild_id=guild_id,
                actor_id=actor_id,
                action=AuditAction.RULE_ADD,
                at=now,
                reason=reason,
                detail=f"{kind.value} #{rule_id}: {stored}",
            )
            rule = await self.repo.get_rule_in(tx, guild_id, rule_id)
        assert rule is not None
        return rule

    async def remove(self, guild_id: int, rule_id: int, *, actor_id: int, reason: str | None) -> PromptRule:
        validate_reason(reason)
        now = self.clock()
        async with self.db.transaction() as tx:
            rule = await self.repo.get_rule_in(tx, guild_id, rule_id)
            if rule is None or not await self.repo.delete_rule_in(tx, guild_id, rule_id):
                raise NotFound(f"There is no rule #{rule_id} in this server. `/wan-mod rules list` shows them.")
            await self.audit.record_in(
                tx,
                guild_id=guild_id,
                actor_id=actor_id,
                action=AuditAction.RULE_REMOVE,
                at=now,
                reason=reason,
                detail=f"{rule.kind.value} #{rule.id}: {rule.value}",
            )
        return rule


class BlockCheck:
    """Blocked members are refused before any other check, so nothing is held or sent."""

    def __init__(self, repo: ModerationRepository) -> None:
        self.repo = repo

    async def check(self, request: JobRequest) -> None:
        block = await self.repo.block(request.guild_id, request.member.member_id)
        if block is not None:
            # The moderator's reason stays with the moderators: it may be a note not meant for the member.
            raise NotPermitted(
                "A moderator has blocked you from making videos in this server, so nothing was charged. "
                "Ask a moderator if you think this is a mistake."
            )


class PromptRuleCheck:
    """Refuses a prompt a rule matches, naming the class of rule and never the rule itself."""

    def __init__(self, rules: PromptRuleService) -> None:
        self.rules = rules

    async def check(self, request: JobRequest) -> None:
        hit = await self.rules.check_prompt(request.guild_id, request.spec.prompt)
        if hit is not None:
            log.info(
                "prompt refused by a %s %s rule guild=%d member=%d rule=%s",
                hit.scope,
                hit.kind.value,
                request.guild_id,
                request.member.member_id,
                hit.rule_id,
            )
            raise InvalidRequest(hit.member_message)
