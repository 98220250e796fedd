"""Config loading: defaults, every key in the example file, env secrets, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    ConfigError,
    config_from_mapping,
    load_config,
    load_config_with_notes,
    provider_summary,
    safety_warnings,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_offline_setup() -> None:
    config = load_config(environ={})
    assert config.provider.effective_kind == "sandbox"
    assert config.database.path == "data/wanbot.sqlite3"
    assert config.credits.default_allowance == 500
    assert config.credits.refill_period == "weekly"
    assert config.credits.prices.price("720p", 5) == 80
    assert config.credits.prices.price("1080p", 15) == 325


def test_example_file_loads_and_matches_the_defaults(tmp_path: Path) -> None:
    config = load_config(EXAMPLE, environ={})
    defaults = load_config(environ={})
    # The one difference: the file's relative database path is relative to the file's folder.
    assert Path(config.database.path) == EXAMPLE.parent / defaults.database.path
    assert config.model_copy(update={"database": defaults.database}) == defaults


def test_database_path_is_relative_to_the_config_file_with_home_expanded(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    relative = write(folder, '[database]\npath = "state/bot.sqlite3"\n')
    assert load_config(relative, environ={}).database.path == str(folder / "state" / "bot.sqlite3")
    home = write(folder, '[database]\npath = "~/bot.sqlite3"\n')
    assert load_config(home, environ={}).database.path == str(Path.home() / "bot.sqlite3")


@pytest.mark.parametrize("value", ['""', '"  "', '":memory:"'])
def test_a_database_path_that_would_lose_everything_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=r"database\.path: .*must name a file"):
        load_config(write(tmp_path, f"[database]\npath = {value}\n"), environ={})


def test_config_toml_in_the_working_directory_is_used_and_said(tmp_path: Path) -> None:
    write(tmp_path, "[credits]\ndefault_allowance = 7\n")
    config, notes = load_config_with_notes(environ={}, cwd=tmp_path)
    assert config.credits.default_allowance == 7
    assert notes == [
        f"using {tmp_path / 'config.toml'} from the working directory (no --config or WANBOT_CONFIG given)"
    ]
    assert load_config_with_notes(environ={}, cwd=tmp_path / "nowhere")[0].credits.default_allowance == 500


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes("\ufeff[credits]\ndefault_allowance = 9\n".encode())
    assert load_config(path, environ={}).credits.default_allowance == 9


def test_booleans_must_be_booleans(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"web\.enabled: Input should be a valid boolean"):
        load_config(write(tmp_path, '[web]\nenabled = "yes"\n'), environ={})


def test_a_secret_in_the_file_gets_a_warning_naming_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[discord]\ntoken = "file-token"\n[provider]\napi_key = "file-key"\n')
    _, notes = load_config_with_notes(path, environ={})
    text = "\n".join(notes)
    assert "[discord] token is written in" in text and "DISCORD_TOKEN environment variable" in text
    assert "[provider] api_key is written in" in text and "WAN_API_KEY environment variable" in text
    assert "file-token" not in text and "file-key" not in text


def test_wan_provider_beside_the_key_leaves_the_sandbox(tmp_path: Path) -> None:
    example_like = write(tmp_path, '[provider]\nkind = "sandbox"\n')
    config, notes = load_config_with_notes(example_like, environ={"WAN_API_KEY": "k"})
    assert config.provider.effective_kind == "sandbox"
    assert any("API key is set but ignored" in note and "WAN_PROVIDER=wan26ai" in note for note in notes)
    config, notes = load_config_with_notes(example_like, environ={"WAN_API_KEY": "k", "WAN_PROVIDER": "wan26ai"})
    assert config.provider.effective_kind == "wan26ai" and notes == []
    assert provider_summary(config).startswith("wan26ai at https://wan26ai.app (real renders")
    with pytest.raises(ConfigError, match=r"provider\.kind \(from WAN_PROVIDER\): must be one of"):
        load_config(example_like, environ={"WAN_PROVIDER": "wan2.6"})
    _, notes = load_config_with_notes(example_like, environ={"WAN_PROVIDER": "apimall"})
    assert notes == ["WAN_PROVIDER=apimall but no API key is set, so the free sandbox runs instead. Set WAN_API_KEY"]


def test_a_paid_provider_with_no_cap_and_no_server_list_is_warned_about() -> None:
    def warnings(**sections: dict[str, object]) -> list[str]:
        return safety_warnings(config_from_mapping(sections, environ={"WAN_API_KEY": "k", "WAN_PROVIDER": "wan26ai"}))

    assert "no [budget] global_cap and no [discord] allowed_guild_ids" in warnings()[0]
    assert warnings(budget={"global_cap": 1000}) == []
    assert warnings(discord={"allowed_guild_ids": [42]}) == []
    assert safety_warnings(config_from_mapping({}, environ={})) == []  # the sandbox costs nothing


def test_environment_wins_for_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, '[discord]\ntoken = "file-token"\n[provider]\nkind = "apimall"\napi_key = "file-key"\n')
    config = load_config(path, environ={"DISCORD_TOKEN": "env-token", "WAN_API_KEY": "env-key"})
    assert config.discord.token.get_secret_value() == "env-token"
    assert config.provider.api_key.get_secret_value() == "env-key"
    assert config.provider.effective_kind == "apimall"
    assert "env-key" not in repr(config) and "env-token" not in str(config)


def test_wanbot_config_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[credits]\ndefault_allowance = 42\n")
    assert load_config(environ={"WANBOT_CONFIG": str(path)}).credits.default_allowance == 42


def test_paid_kind_without_key_runs_the_sandbox(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[provider]\nkind = "wan26ai"\n'), environ={})
    assert config.provider.kind == "wan26ai"
    assert config.provider.effective_kind == "sandbox"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[provider]\nkind = "openai"\n', "provider.kind: must be one of 'wan26ai', 'apimall' or 'sandbox'"),
        ('[credits]\nrefill_period = "yearly"\n', "credits.refill_period: must be one of"),
        (
            "[credits]\ndefault_allowance = -5\n",
            "credits.default_allowance: Input should be greater than or equal to 0",
        ),
        ("[provider]\npoll_interval_seconds = 0\n", "provider.poll_interval_seconds"),
        ('[databse]\npath = "x"\n', "databse: unknown key"),
        ('[provider]\nbase_url = "ftp://x"\n', "provider.base_url: Value error, must start with https://"),
        ('[credits.prices]\n"720p" = { "5" = 0, "10" = 150, "15" = 220 }\n', "credits.prices.720p.5"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(caught.value)


def test_missing_and_broken_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", environ={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[provider\nkind="), environ={})


def test_secret_never_in_validation_error(tmp_path: Path) -> None:
    path = write(tmp_path, '[provider]\napi_key = "sk-very-secret"\nkind = "bogus"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert "sk-very-secret" not in str(caught.value)


def test_webhook_secret_comes_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[callbacks]\napimall_webhook_secret = "file-secret"\n')
    config = load_config(path, environ={"WANBOT_WEBHOOK_SECRET": "env-secret"})
    assert config.callbacks.apimall_webhook_secret.get_secret_value() == "env-secret"
    assert "env-secret" not in repr(config)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[callbacks]\nenabled = true\n", "callbacks.enabled needs web.enabled = true"),
        (
            '[web]\nenabled = true\nhost = "0.0.0.0"\n[callbacks]\nenabled = true\n',
            "callbacks.public_base_url is required",
        ),
        ('[callbacks]\npublic_base_url = "bot.example.org"\n', "callbacks.public_base_url: Value error, must start"),
        ('[callbacks]\napimall_signature_header = "X Sig"\n', "callbacks.apimall_signature_header: Value error"),
        ("[web]\nport = 70000\n", "web.port"),
    ],
)
def test_bad_server_settings_say_what_to_change(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={})
    assert expected in str(caught.value)


def test_public_base_url_loses_its_trailing_slash(tmp_path: Path) -> None:
    text = '[web]\nenabled = true\n[callbacks]\nenabled = true\npublic_base_url = "https://bot.example.org/"\n'
    config = load_config(write(tmp_path, text), environ={})
    assert config.callbacks.public_base_url == "https://bot.example.org"


def test_the_global_rule_list_is_checked_when_loaded(tmp_path: Path) -> None:
    good = write(tmp_path, '[moderation]\nblocked_words = ["Gore"]\nblocked_patterns = ["blood\\\\s*bath"]\n')
    config = load_config(good, environ={})
    assert config.moderation.blocked_words == ["Gore"]
    bad = write(tmp_path, '[moderation]\nblocked_patterns = ["(?<=x)y"]\n')
    with pytest.raises(ConfigError, match=r"moderation\.blocked_patterns.*not a pattern I can use"):
        load_config(bad, environ={})
