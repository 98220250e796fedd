"""Crash safety: the real bot as a real process, killed with SIGKILL at random moments.

Three processes take part (see ``harness.py``):

- the fake provider (``provider_process``): a loopback server speaking a provider's API. It
  runs for the whole session and survives every kill, so it remembers every task the bot
  ever created, which is what "never submitted twice" is checked against;
- the bot (``bot_process``): the real bot, all cogs, a real SQLite file, on SimCord's
  simulated Discord, with a driver inside the same process playing members who type
  ``/video``. Every message the simulated Discord accepts is appended to a log file and
  fsync'd *before* the bot gets its answer (``discord_log``), so the log is exactly what a
  real Discord would still hold after the bot died. On restart the log re-seeds the
  simulated channel, so the bot's own history scan finds its earlier posts;
- the harness, which starts, kills and restarts the bot and checks the files it leaves
  behind (``checks``) after every kill.

Several processes (``multi.py``, issue 12): three REST-only bots (``rest_bot_process``) on
one PostgreSQL, the same fake provider, and a loopback fake of the Discord REST endpoints the
bot uses (``discord_rest``: messages, history, edits, nonces) shared by all three and logged
in the same format; the harness plays the members by accepting jobs into the database.

Time: both the provider and the simulated Discord run on one virtual clock derived from the
wall clock (``VirtualClock``), sped up so a 60-second render takes a few real seconds. It
keeps running while the bot is dead, as time does for a real bot.
"""
