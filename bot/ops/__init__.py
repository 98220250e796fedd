"""Operations: the bot's HTTP server (completion callbacks, health, metrics) and what it serves."""
