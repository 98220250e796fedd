"""The Discord side, one package per feature (python-discord's ``bot/exts/<feature>/``): each package's
``__init__.py`` holds ``setup``, which adds its cog and registers its own persistent buttons."""

EXTENSIONS = (
    "bot.exts.video",
    "bot.exts.credits",
    "bot.exts.jobs",
    "bot.exts.runner",
    "bot.exts.admin",
    "bot.exts.moderation",
    "bot.exts.animate",
    "bot.exts.store",
    "bot.exts.review",
    "bot.exts.reports",
    "bot.exts.help",
)
# Extensions with no commands: background work, or buttons only. Left out when only registering commands.
BACKGROUND_EXTENSIONS = frozenset({"bot.exts.runner", "bot.exts.store", "bot.exts.review", "bot.exts.reports"})
