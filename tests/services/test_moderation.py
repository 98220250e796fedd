"""Moderation services on a real SQLite file: the audit log's guarantees, refunds at most once,
one review decision under concurrency, report votes, blocks before money, refusals logged once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from bot.domain.models import Job, JobState, LedgerKind
from bot.domain.moderation import AuditAction, ReportState, ReviewState, RuleKind
from bot.domain.rules import RuleSet
from bot.errors import Conflict, InvalidRequest, NotPermitted
from bot.services.credits import CreditService, FixedAllowancePolicy, MemberContext
from bot.services.moderation import ModerationService
from bot.services.prompt_rules import BlockCheck, PromptRuleCheck, PromptRuleService
from bot.services.reports import ReportService
from bot.services.review import ReviewService
from bot.storage.audit import AuditRepository
from bot.storage.db import Database, IntegrityError
from bot.storage.moderation import ModerationRepository
from bot.storage.reports import ReportRepository
from bot.storage.reviews import ReviewRepository
from tests.support import GUILD, Core, ManualClock, build_core, request, spec

ALICE, MOD, MOD2, BOB = 1, 50, 51, 2


@dataclass
class Mod:
    core: Core
    audit: AuditRepository
    moderation: ModerationService
    rules: PromptRuleService
    reviews: ReviewService
    reports: ReportService


@pytest.fixture
def mod(db: Database, clock: ManualClock) -> Mod:
    core = build_core(db, clock)
    audit = AuditRepository(db)
    # The audited credit service, as the bot builds it.
    core.credits = CreditService(db, core.ledger, FixedAllowancePolicy(500, "weekly"), clock, audit=audit)
    core.jobs.credits = core.credits
    repo, review_repo, report_repo = ModerationRepository(db), ReviewRepository(db), ReportRepository(db)
    moderation = ModerationService(
        db=db,
        repo=repo,
        audit=audit,
        credits=core.credits,
        jobs=core.job_repo,
        reviews=review_repo,
        reports=report_repo,
        clock=clock,
    )
    rules = PromptRuleService(
        db=db, repo=repo, audit=audit, global_rules=RuleSet.from_lists("global", ["badword"], []), clock=clock
    )
    core.jobs.request_checks += [BlockCheck(repo), PromptRuleCheck(rules)]
    reviews = ReviewService(
        db=db, reviews=review_repo, settings=repo, jobs=core.job_repo, credits=core.credits, audit=audit, clock=clock
    )
    reports = ReportService(db=db, reports=report_repo, jobs=core.job_repo, audit=audit, clock=clock)
    return Mod(core, audit, moderation, rules, reviews, reports)


async def delivered_job(mod: Mod, member: int = ALICE) -> Job:
    """A job as the runner leaves it after posting: delivered and settled."""
    core = mod.core
    job = (await core.jobs.accept(request(member))).job
    async with core.db.transaction() as tx:
        assert await core.job_repo.transition(tx, job.id, [JobState.ACCEPTED], JobState.DELIVERED)
        await core.credits.settle_in(tx, job, core.clock())
    fresh = await core.job_repo.get(job.id)
    assert fresh is not None
    return fresh


async def test_the_audit_log_cannot_be_edited_or_deleted(mod: Mod) -> None:
    await mod.moderation.block(GUILD, ALICE, actor_id=MOD, reason="spam")
    with pytest.raises(IntegrityError, match="append-only"):
        async with mod.core.db.transaction() as tx:
            await tx.execute("UPDATE audit_log SET reason = 'nothing happened'")
    with pytest.raises(IntegrityError, match="append-only"):
        async with mod.core.db.transaction() as tx:
            await tx.execute("DELETE FROM audit_log")
    [entry] = await mod.audit.entries(GUILD)
    assert (entry.action, entry.actor_id, entry.target_member_id, entry.reason) == (
        AuditAction.BLOCK,
        MOD,
        ALICE,
        "spam",
    )
    assert entry.created_at == mod.core.clock()


async def test_grants_are_audited_in_the_grant_transaction(mod: Mod) -> None:
    await mod.core.credits.grant(GUILD, MemberContext(ALICE), 250, actor_id=MOD, reason="event prize")
    with pytest.raises(InvalidRequest):
        await mod.core.credits.grant(GUILD, MemberContext(ALICE), -5000, actor_id=MOD, reason=None)
    [entry] = await mod.audit.entries(GUILD)  # the refused revoke left no entry
    assert (entry.action, entry.target_member_id, entry.detail, entry.reason) == (
        AuditAction.GRANT,
        ALICE,
        "+250 credits",
        "event prize",
    )


async def test_a_blocked_member_is_refused_before_any_ledger_entry(mod: Mod) -> None:
    await mod.moderation.block(GUILD, ALICE, actor_id=MOD, reason=None)
    with pytest.raises(NotPermitted, match="blocked"):
        await mod.core.jobs.accept(request(ALICE))
    assert await mod.core.ledger.entries(GUILD) == []
    with pytest.raises(NotPermitted):
        await mod.core.jobs.quote(request(ALICE))
    await mod.moderation.unblock(GUILD, ALICE, actor_id=MOD, reason=None)
    assert (await mod.core.jobs.accept(request(ALICE))).job.price == 80
    with pytest.raises(Conflict, match="not blocked"):
        await mod.moderation.unblock(GUILD, ALICE, actor_id=MOD, reason=None)
    with pytest.raises(InvalidRequest, match="yourself"):
        await mod.moderation.block(GUILD, MOD, actor_id=MOD, reason=None)


async def test_prompt_rules_refuse_before_money_and_changes_apply_at_once(mod: Mod) -> None:
    with pytest.raises(InvalidRequest, match="global block list"):
        await mod.core.jobs.accept(request(ALICE, spec("a BADWORD here")))
    await mod.core.jobs.accept(request(ALICE, spec("a shark")))  # compiles the server's (empty) rules
    rule = await mod.rules.add(GUILD, RuleKind.WORD, "Shark", actor_id=MOD, reason=None)
    with pytest.raises(InvalidRequest, match="a word this server has blocked"):
        await mod.core.jobs.accept(request(ALICE, spec("a shark")))
    with pytest.raises(Conflict, match="already blocked"):
        await mod.rules.add(GUILD, RuleKind.WORD, "SHARK", actor_id=MOD, reason=None)
    await mod.rules.remove(GUILD, rule.id, actor_id=MOD, reason="fine after all")
    await mod.core.jobs.accept(request(ALICE, spec("a shark")))
    # Another server's rules are its own.
    await mod.rules.add(GUILD + 1, RuleKind.PATTERN, "whale", actor_id=MOD, reason=None)
    await mod.core.jobs.accept(request(ALICE, spec("a whale")))
    holds = [e for e in await mod.core.ledger.entries(GUILD) if e.kind is LedgerKind.HOLD]
    assert len(holds) == 3  # refused prompts held nothing
    assert [e.action for e in await mod.audit.entries(GUILD)] == [AuditAction.RULE_ADD, AuditAction.RULE_REMOVE]


async def test_a_delivered_job_is_refunded_at_most_once_even_in_a_race(mod: Mod) -> None:
    job = await delivered_job(mod)
    results = await asyncio.gather(
        mod.moderation.refund(GUILD, job.id, actor_id=MOD, reason="a"),
        mod.moderation.refund(GUILD, job.id, actor_id=MOD2, reason="b"),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    adjusts = [e for e in await mod.core.ledger.entries(GUILD) if e.kind is LedgerKind.ADJUST]
    assert [(e.amount, e.job_id) for e in adjusts] == [(80, job.id)]
    assert (await mod.core.ledger.balance(GUILD, ALICE)).available == 500
    # SQLite refuses a second refund row for the job whatever the code does.
    with pytest.raises(IntegrityError):
        async with mod.core.db.transaction() as tx:
            await mod.core.ledger.append(
                tx,
                guild_id=GUILD,
                member_id=ALICE,
                kind=LedgerKind.ADJUST,
                amount=80,
                at=mod.core.clock(),
                job_id=job.id,
            )


async def test_only_delivered_jobs_can_be_refunded(mod: Mod) -> None:
    running = (await mod.core.jobs.accept(request(ALICE))).job
    with pytest.raises(Conflict, match="still queued"):
        await mod.moderation.refund(GUILD, running.id, actor_id=MOD, reason=None)
    cancelled = await mod.core.jobs.cancel(GUILD, running.id, ALICE)
    with pytest.raises(Conflict, match="already returned"):
        await mod.moderation.refund(GUILD, cancelled.id, actor_id=MOD, reason=None)


async def test_two_simultaneous_review_decisions_produce_one(mod: Mod) -> None:
    job = await delivered_job(mod)
    await mod.reviews.open(job, channel_id=777)
    decisions = await asyncio.gather(
        mod.reviews.approve(GUILD, job.id, actor_id=MOD),
        mod.reviews.reject(GUILD, job.id, actor_id=MOD2, reason="no"),
        mod.reviews.approve(GUILD, job.id, actor_id=MOD2),
    )
    assert sum(d.won for d in decisions) == 1
    winner = next(d for d in decisions if d.won)
    assert all(d.review.state is winner.review.state for d in decisions)
    assert {d.review.decided_by for d in decisions} == {winner.review.decided_by}
    decided = [
        e.action for e in await mod.audit.entries(GUILD) if e.action in (AuditAction.APPROVE, AuditAction.REJECT)
    ]
    assert len(decided) == 1


async def test_rejection_refunds_only_when_the_server_says_so(mod: Mod) -> None:
    kept = await delivered_job(mod)
    await mod.reviews.open(kept, channel_id=777)
    assert (await mod.reviews.reject(GUILD, kept.id, actor_id=MOD, reason=None)).refunded is None
    await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=True, channel_id=777, refund_on_reject=True)
    refunded = await delivered_job(mod)
    await mod.reviews.open(refunded, channel_id=777)
    assert (await mod.reviews.reject(GUILD, refunded.id, actor_id=MOD, reason="off topic")).refunded == 80
    balance = await mod.core.ledger.balance(GUILD, ALICE)
    assert (balance.available, balance.held) == (500 - 80, 0)  # one kept, one returned
    with pytest.raises(Conflict, match="already refunded"):
        await mod.moderation.refund(GUILD, refunded.id, actor_id=MOD, reason=None)
    actions = [e.action for e in await mod.audit.entries(GUILD)]
    assert actions == [AuditAction.REJECT, AuditAction.SETTING, AuditAction.REJECT, AuditAction.REFUND]

    # Refunded by a moderator before the rejection: no second refund, and the member hears the truth.
    early = await delivered_job(mod)
    await mod.reviews.open(early, channel_id=777)
    await mod.moderation.refund(GUILD, early.id, actor_id=MOD, reason=None)
    late = await mod.reviews.reject(GUILD, early.id, actor_id=MOD, reason=None)
    assert (late.refunded, late.returned) == (None, 80)
    adjusts = [e for e in await mod.core.ledger.entries(GUILD) if e.kind is LedgerKind.ADJUST]
    assert sorted(e.job_id for e in adjusts if e.job_id is not None) == [refunded.id, early.id]


async def test_a_refund_racing_a_refunding_rejection_gives_back_once_and_says_so(mod: Mod) -> None:
    # On PostgreSQL both run at once on their own connections: whichever comes second must see
    # the first one's refund (a clear "already refunded"), not trip over the unique index.
    await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=True, channel_id=777, refund_on_reject=True)
    for _ in range(10):
        job = await delivered_job(mod)
        await mod.reviews.open(job, channel_id=777)
        refund, rejection = await asyncio.gather(
            mod.moderation.refund(GUILD, job.id, actor_id=MOD, reason=None),
            mod.reviews.reject(GUILD, job.id, actor_id=MOD2, reason="off topic"),
            return_exceptions=True,
        )
        assert not isinstance(rejection, BaseException), rejection
        assert rejection.won and rejection.returned == 80
        if isinstance(refund, BaseException):
            assert isinstance(refund, Conflict) and "already refunded" in str(refund)
            assert rejection.refunded == 80
        else:
            assert rejection.refunded is None
        adjusts = [
            e for e in await mod.core.ledger.entries(GUILD) if e.kind is LedgerKind.ADJUST and e.job_id == job.id
        ]
        assert [e.amount for e in adjusts] == [80]


async def test_reports_count_one_vote_per_member_and_a_dismissal_starts_over(mod: Mod) -> None:
    job = await delivered_job(mod)
    where = {"channel_id": 10, "message_id": 11}
    first = await mod.reports.report(GUILD, job.id, member_id=BOB, **where)
    again = await mod.reports.report(GUILD, job.id, member_id=BOB, **where)
    third = await mod.reports.report(GUILD, job.id, member_id=MOD2, **where)
    assert (first.created, first.counted, first.report.votes) == (True, True, 1)
    assert (again.created, again.counted, again.report.votes) == (False, False, 1)
    assert (third.created, third.counted, third.report.votes) == (False, True, 2)
    assert first.report.id == third.report.id

    dismissed = await mod.reports.dismiss(GUILD, first.report.id, actor_id=MOD)
    assert dismissed.state is ReportState.DISMISSED
    with pytest.raises(Conflict, match="already dismissed"):
        await mod.reports.dismiss(GUILD, first.report.id, actor_id=MOD2)
    fresh = await mod.reports.report(GUILD, job.id, member_id=BOB, **where)
    assert fresh.created and fresh.report.id != first.report.id and fresh.report.votes == 1

    removed = await mod.reports.record_removal(GUILD, job.id, actor_id=MOD, reason="rule 3", **where)
    assert removed.closed_report is not None and removed.closed_report.state is ReportState.REMOVED
    with pytest.raises(Conflict, match="already removed"):
        await mod.reports.record_removal(GUILD, job.id, actor_id=MOD2, **where)
    with pytest.raises(Conflict, match="already removed"):
        await mod.reports.report(GUILD, job.id, member_id=ALICE, **where)

    history = await mod.moderation.history(GUILD, ALICE)
    [item] = history.items
    assert item.reports == 2 and item.removal is not None and item.removal.actor_id == MOD


async def test_a_provider_refusal_is_logged_once(mod: Mod) -> None:
    job = (await mod.core.jobs.accept(request(ALICE))).job
    for _ in range(2):
        async with mod.core.db.transaction() as tx:
            await mod.moderation.record_refusal_in(tx, job, "HTTP 451: content moderation", mod.core.clock())
    [entry] = await mod.audit.entries(GUILD)
    assert (entry.action, entry.actor_id, entry.job_id, entry.detail) == (
        AuditAction.PROVIDER_REFUSED,
        None,
        job.id,
        "HTTP 451: content moderation",
    )


async def test_review_settings_need_a_channel_and_are_audited(mod: Mod) -> None:
    with pytest.raises(InvalidRequest, match="review channel"):
        await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=True, channel_id=None, refund_on_reject=None)
    await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=True, channel_id=5, refund_on_reject=None)
    off = await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=False, channel_id=None, refund_on_reject=None)
    assert (off.review_enabled, off.review_channel_id, off.refund_on_reject) == (False, 5, False)
    on = await mod.moderation.set_review(GUILD, actor_id=MOD, enabled=True, channel_id=None, refund_on_reject=True)
    assert (on.review_target, on.refund_on_reject) == (5, True)
    assert [e.action for e in await mod.audit.entries(GUILD)] == [AuditAction.SETTING] * 3


async def test_history_and_log_are_paged_newest_first(mod: Mod) -> None:
    await mod.core.credits.grant(GUILD, MemberContext(ALICE), 1000, actor_id=MOD, reason=None)
    for _ in range(12):
        await mod.core.jobs.accept(request(ALICE))
    first, second = await mod.moderation.history(GUILD, ALICE, 1), await mod.moderation.history(GUILD, ALICE, 2)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (12, 2, 10, 2)
    assert first.items[0].job.id == 12 and second.items[-1].job.id == 1
    for number in range(3):
        await mod.moderation.block(GUILD, 100 + number, actor_id=MOD, reason=str(number))
    log = await mod.moderation.audit_page(GUILD)
    assert [e.reason for e in log.items] == ["2", "1", "0", None]  # the grant is the oldest
    about = await mod.moderation.audit_page(GUILD, member_id=101)
    assert [e.target_member_id for e in about.items] == [101]
    with pytest.raises(InvalidRequest):
        await mod.moderation.audit_page(GUILD, 0)


async def test_a_decided_review_keeps_its_state(mod: Mod) -> None:
    job = await delivered_job(mod)
    await mod.reviews.open(job, channel_id=777)
    again = await mod.reviews.open(job, channel_id=888)  # a retried delivery finds the first one
    assert again.channel_id == 777 and again.state is ReviewState.PENDING
    await mod.reviews.approve(GUILD, job.id, actor_id=MOD)
    await mod.reviews.mark_published(job.id, 4242)
    await mod.reviews.mark_published(job.id, 4343)  # only the first post counts
    review = await mod.reviews.get(job.id)
    assert review is not None and review.published_message_id == 4242
    assert (await mod.core.job_repo.get(job.id)).result_message_id == 4242  # type: ignore[union-attr]


async def test_nul_characters_are_refused_before_anything_is_stored(mod: Mod, db: Database) -> None:
    """PostgreSQL text cannot hold NUL: both backends refuse it at validation, saying what to change."""
    with pytest.raises(InvalidRequest, match=r"The reason contains a NUL character .* Remove it"):
        await mod.core.credits.grant(GUILD, MemberContext(ALICE), 50, actor_id=MOD, reason="thanks\x00")
    with pytest.raises(InvalidRequest, match=r"The reason contains a NUL character"):
        await mod.moderation.block(GUILD, ALICE, actor_id=MOD, reason="spam\x00")
    with pytest.raises(InvalidRequest, match=r"The word contains a NUL character"):
        await mod.rules.add(GUILD, RuleKind.WORD, "bad\x00word", actor_id=MOD, reason=None)
    assert await db.fetchval("SELECT COUNT(*) FROM ledger WHERE kind = 'grant'") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM member_blocks") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM prompt_rules") == 0
    assert await db.fetchval("SELECT COUNT(*) FROM audit_log") == 0


async def test_members_reporting_one_video_at_once_make_one_report_with_every_vote(mod: Mod) -> None:
    """On PostgreSQL transactions run side by side: the first report is created once, under a lock."""
    job = await delivered_job(mod)
    outcomes = await asyncio.gather(
        *(
            mod.reports.report(GUILD, job.id, member_id=member, channel_id=2000, message_id=777)
            for member in range(100, 110)
        )
    )
    assert sum(outcome.created for outcome in outcomes) == 1
    assert len({outcome.report.id for outcome in outcomes}) == 1
    assert max(outcome.report.votes for outcome in outcomes) == 10


async def test_blocking_one_member_twice_at_once_blocks_once(mod: Mod) -> None:
    results = await asyncio.gather(
        *(mod.moderation.block(GUILD, BOB, actor_id=actor, reason=None) for actor in (MOD, MOD2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Block", "Conflict"]
    assert len([e for e in await mod.audit.entries(GUILD) if e.action is AuditAction.BLOCK]) == 1
