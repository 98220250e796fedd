"""``python -m bot check``: every problem in plain words, and a non-zero exit when there is one."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage.db import bundled_migrations
from tests.cli.conftest import DISCORD_TOKEN, Cli, write_config
from tests.fakes.discord_api import APPLICATION_ID, FakeDiscordApi
from tests.fakes.wan26ai_server import FakeWan26ai

API_KEY = "sk-check-0123456789abcdef"


def provider(server: FakeWan26ai, key: str = API_KEY) -> str:
    # A global cap: a paid provider without one (or a server list) is a safety problem of its own.
    return (
        f'[provider]\nkind = "wan26ai"\nbase_url = "{server.base_url}"\napi_key = "{key}"\n'
        "[budget]\nglobal_cap = 100000\n"
    )


async def test_a_bad_config_is_named_in_plain_words(tmp_path: Path, cli: Cli) -> None:
    path = write_config(tmp_path, '[provider]\nkind = "openai"\npoll_interval_seconds = 0\n[loop]\ntick = 3\n')
    result = await cli("check", "--config", str(path))
    assert result.code == 1
    assert "PROBLEM  config:" in result.out
    assert "provider.kind: must be one of 'wan26ai', 'apimall' or 'sandbox'" in result.out
    assert "provider.poll_interval_seconds" in result.out
    assert "loop.tick: unknown key (check the spelling against config.example.toml)" in result.out
    assert "1 problem found: config." in result.out


async def test_a_missing_config_file_is_a_problem(tmp_path: Path, cli: Cli) -> None:
    result = await cli("--config", str(tmp_path / "nope.toml"), "check")
    assert result.code == 1 and "no such config file" in result.out


async def test_a_rejected_key_is_reported(tmp_path: Path, cli: Cli) -> None:
    async with FakeWan26ai(api_key="the-real-key") as server:
        text = provider(server) + f'[discord]\ntoken = "{DISCORD_TOKEN}"\n'
        result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert result.code == 1
    assert "ok       database:" in result.out and f"schema version {bundled_migrations()[-1].version}" in result.out
    assert f"PROBLEM  provider: wan26ai at {server.base_url} rejected the API key (HTTP 401)" in result.out
    assert "WAN_API_KEY" in result.out
    assert "1 problem found: provider." in result.out
    assert API_KEY not in result.out + result.err


async def test_an_unreachable_provider_is_reported(tmp_path: Path, cli: Cli) -> None:
    async with FakeWan26ai(api_key=API_KEY) as server:
        base_url = server.base_url
    text = provider(server).replace(server.base_url, base_url) + f'[discord]\ntoken = "{DISCORD_TOKEN}"\n'
    result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert result.code == 1 and "could not get an answer from wan26ai" in result.out


async def test_a_working_setup_passes(tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi) -> None:
    async with FakeWan26ai(api_key=API_KEY) as server:
        path = write_config(tmp_path, provider(server) + f'[discord]\ntoken = "{DISCORD_TOKEN}"\n')
        result = await cli("check", "--config", str(path))
    assert result.code == 0, result.out
    assert f"ok       provider: live: wan26ai at {server.base_url} (real renders" in result.out
    assert "the API key was accepted" in result.out
    assert f"token accepted: logged in as wanbot (application {APPLICATION_ID})" in result.out
    assert f"client_id={APPLICATION_ID}" in result.out and "applications.commands" in result.out
    assert "Everything needed to run looks right." in result.out
    assert (tmp_path / "wanbot.sqlite3").is_file()  # opened and migrated
    assert discord_api.logins == 1 and discord_api.registrations == []


async def test_a_refused_or_missing_discord_token(
    tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, '[discord]\ntoken = "not-the-token"\n')
    result = await cli("check", "--config", str(path))
    assert result.code == 1 and "PROBLEM  discord: Discord refused the token" in result.out
    assert "not-the-token" not in result.out + result.err

    result = await cli("check", "--config", str(write_config(tmp_path)))
    assert result.code == 1 and "PROBLEM  discord: no Discord token" in result.out

    monkeypatch.setenv("DISCORD_TOKEN", DISCORD_TOKEN)  # the environment wins over the file
    result = await cli("check", "--config", str(path))
    assert result.code == 0, result.out


async def test_callbacks_for_apimall_without_a_secret_are_a_problem(tmp_path: Path, cli: Cli) -> None:
    text = (
        f'[discord]\ntoken = "{DISCORD_TOKEN}"\n[web]\nenabled = true\n'
        '[callbacks]\nenabled = true\npublic_base_url = "https://bot.example.org"\n'
    )
    result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert result.code == 0  # sandbox: no webhooks to verify
    assert "on, but the sandbox provider sends none" in result.out
    async with FakeWan26ai(api_key=API_KEY) as server:
        apimall = provider(server).replace('"wan26ai"', '"apimall"')
        result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text + apimall)))
    assert result.code == 1 and "PROBLEM  callbacks: on for apimall but no webhook secret" in result.out


async def test_debug_logs_provider_bodies_with_secrets_masked(tmp_path: Path, cli: Cli) -> None:
    async with FakeWan26ai(api_key=API_KEY) as server:
        # An answer that echoes the key back: the log must still not show it.
        server.inject("status", status=404, error_message=f"no task; you sent Bearer {API_KEY}")
        text = provider(server) + f'[discord]\ntoken = "{DISCORD_TOKEN}"\n'
        result = await cli("--debug", "check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
        quiet = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert result.code == 0, result.out + result.err
    assert "wan26ai GET /api/status request params=" in result.err
    assert "wan26ai GET /api/status answered HTTP 404" in result.err and "no task; you sent Bearer ***" in result.err
    assert API_KEY not in result.err + result.out
    assert "request params=" not in quiet.err  # bodies only with --debug


async def test_check_lists_servers_that_are_not_allowed_and_a_public_bot(
    tmp_path: Path, cli: Cli, discord_api: FakeDiscordApi
) -> None:
    discord_api.guilds = [(111, "Home"), (222, "Stranger")]
    discord_api.bot_public = True
    path = write_config(tmp_path, f'[discord]\ntoken = "{DISCORD_TOKEN}"\nallowed_guild_ids = [111]\n')
    result = await cli("check", "--config", str(path))
    assert result.code == 1
    assert "in 2 servers" in result.out
    assert "PROBLEM  discord: in 1 server not in [discord] allowed_guild_ids: Stranger (222)." in result.out
    assert "'Public Bot' is on in the Developer Portal" in result.out
    # The invite asks for Send Messages in Threads (1 << 38) with the rest.
    invite = next(line for line in result.out.splitlines() if "invite link: " in line)
    permissions = int(invite.split("permissions=")[1].split("&")[0])
    assert permissions & (1 << 38) and permissions & (1 << 11)


async def test_a_paid_provider_with_no_cap_and_no_server_list_is_a_safety_problem(tmp_path: Path, cli: Cli) -> None:
    async with FakeWan26ai(api_key=API_KEY) as server:
        uncapped = provider(server).replace("global_cap = 100000", "global_cap = 0")
        text = uncapped + f'[discord]\ntoken = "{DISCORD_TOKEN}"\n'
        result = await cli("check", "--skip-discord", "--config", str(write_config(tmp_path, text)))
    assert result.code == 1
    assert "PROBLEM  safety: a paid provider is live with no [budget] global_cap" in result.out
    assert "1 problem found: safety." in result.out


async def test_an_ignored_key_is_said(tmp_path: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAN_API_KEY", API_KEY)
    path = write_config(tmp_path, f'[discord]\ntoken = "{DISCORD_TOKEN}"\n')
    result = await cli("check", "--skip-discord", "--config", str(path))
    assert "note     provider: a provider API key is set but ignored: the provider is sandbox" in result.out
    assert "ok       provider: live: sandbox" in result.out
