-- Budget running totals: what bot.storage.spend counts, kept per scope and period so a budget check
-- reads one row instead of summing every hold since the period began.
-- guild_id 0 is the bot-wide total (Discord ids are never 0); period is '<kind>:<key>', e.g.
-- 'daily:2026-01-31', 'weekly:2026-W05', 'monthly:2026-01', 'never:once'. A row is seeded from the
-- full sum the first time its period is checked, then moved by holds (+) and by releases the
-- provider did not charge for (-), in their own transactions; it is never seeded again.
CREATE TABLE budget_totals (
    guild_id    INTEGER NOT NULL,
    period      TEXT    NOT NULL,
    spent       INTEGER NOT NULL,
    PRIMARY KEY (guild_id, period)
);
