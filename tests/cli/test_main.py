"""The command line's shape: run stays the default, options go before or after the command."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Cli, write_config


async def test_run_without_a_token_explains_how_to_get_one(tmp_path: Path, cli: Cli) -> None:
    config = str(write_config(tmp_path))
    for argv in (("--config", config), ("run", "--config", config), ("--config", config, "run")):
        result = await cli(*argv)
        assert result.code == 2 and "No Discord token is configured" in result.err
        assert "python -m bot demo" in result.err


async def test_a_bad_config_stops_every_command_with_the_key_named(tmp_path: Path, cli: Cli) -> None:
    config = str(write_config(tmp_path, "[web]\nport = -1\n"))
    for command in ("run", "sync", "backup", "export-ledger"):
        argv = [command, "--config", config] + (["copy.sqlite3"] if command == "backup" else [])
        result = await cli(*argv)
        assert result.code == 2 and "web.port" in result.err, command
