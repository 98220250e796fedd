"""Configuration: one TOML file validated into pydantic models, loaded once in main.

Secrets come from the environment first (``DISCORD_TOKEN``, ``WAN_API_KEY``) and are kept
as ``SecretStr`` so they never show up in a repr, a log line or an error message.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    SecretStr,
    ValidationError,
    field_validator,
)

from bot.domain.models import Duration, Resolution
from bot.domain.moderation import RuleKind
from bot.domain.rules import validate_rule
from bot.errors import InvalidRequest

ProviderKind = Literal["wan26ai", "apimall", "sandbox"]
RefillPeriod = Literal["daily", "weekly", "monthly", "never"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "wan26ai": "https://wan26ai.app",
    "apimall": "https://gateway.apimall.ai",
    "sandbox": "",
}

ENV_CONFIG_PATH = "WANBOT_CONFIG"
ENV_DISCORD_TOKEN = "DISCORD_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENV_API_KEY = "WAN_API_KEY"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordConfig(_Section):
    token: SecretStr = SecretStr("")
    dev_guild_ids: list[PositiveInt] = Field(default_factory=list)


class ProviderConfig(_Section):
    kind: ProviderKind = "sandbox"
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    poll_interval_seconds: Annotated[float, Field(ge=1, le=3600)] = 5
    job_timeout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    request_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30
    # How many create attempts a job gets for transient errors (429/5xx) before its credits go back.
    max_submit_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    # Sandbox only: how long a fake render takes.
    sandbox_render_seconds: Annotated[float, Field(ge=0, le=3600)] = 8

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for a local test server), or be empty")
        return value

    @property
    def effective_kind(self) -> ProviderKind:
        """The provider actually used: a paid kind with no key falls back to the free sandbox."""
        if self.kind != "sandbox" and not self.api_key.get_secret_value():
            return "sandbox"
        return self.kind

    @property
    def effective_base_url(self) -> str:
        return self.base_url or DEFAULT_BASE_URLS[self.effective_kind]


class DatabaseConfig(_Section):
    path: str = "data/wanbot.sqlite3"


class DurationPrices(_Section):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    s5: PositiveInt = Field(alias="5")
    s10: PositiveInt = Field(alias="10")
    s15: PositiveInt = Field(alias="15")

    def for_duration(self, duration: Duration) -> int:
        return {5: self.s5, 10: self.s10, 15: self.s15}[duration]


class PriceTable(_Section):
    """Credits per render. Default: the wan26ai table, so one credit is one provider credit."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    p720: DurationPrices = Field(
        alias="720p", default_factory=lambda: DurationPrices.model_validate({"5": 80, "10": 150, "15": 220})
    )
    p1080: DurationPrices = Field(
        alias="1080p", default_factory=lambda: DurationPrices.model_validate({"5": 115, "10": 220, "15": 325})
    )

    def price(self, resolution: Resolution, duration: Duration) -> int:
        table = self.p720 if resolution == "720p" else self.p1080
        return table.for_duration(duration)


class CreditsConfig(_Section):
    default_allowance: Annotated[int, Field(ge=0, le=10_000_000)] = 500
    refill_period: RefillPeriod = "weekly"
    prices: PriceTable = Field(default_factory=PriceTable)


class RequestsConfig(_Section):
    # Attachment limits checked before anything is charged (the provider fetches the file itself).
    max_image_mb: Annotated[int, Field(ge=1, le=500)] = 20
    max_video_mb: Annotated[int, Field(ge=1, le=2000)] = 100
    default_duration: Literal[5, 10, 15] = 5
    default_resolution: Resolution = "720p"


class DeliveryConfig(_Section):
    # The largest result the bot will download at all; bigger results are posted as links.
    max_download_mb: Annotated[int, Field(ge=1, le=2048)] = 100
    download_timeout_seconds: Annotated[float, Field(gt=0, le=3600)] = 300
    # Progress messages are edited at most this often while a job renders.
    progress_edit_seconds: Annotated[float, Field(ge=5, le=3600)] = 30


class LoopConfig(_Section):
    # How often the background loop wakes to look for due jobs. Per-job pacing is separate.
    tick_seconds: Annotated[float, Field(ge=0.5, le=60)] = 2
    # Jobs handled concurrently within one tick.
    concurrency: Annotated[int, Field(ge=1, le=100)] = 8
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200


class ModerationConfig(_Section):
    """The global prompt rules, applied in every server before its own (see bot.domain.rules)."""

    blocked_words: list[str] = Field(default_factory=list)
    blocked_patterns: list[str] = Field(default_factory=list)

    @field_validator("blocked_words")
    @classmethod
    def _words_are_usable(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_rule(RuleKind.WORD, value)
        return values

    @field_validator("blocked_patterns")
    @classmethod
    def _patterns_compile(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_rule(RuleKind.PATTERN, value)
        return values


def _check_rule(kind: RuleKind, value: str) -> None:
    try:
        validate_rule(kind, value)
    except InvalidRequest as error:
        raise ValueError(f"{value!r}: {error.message}") from None


class Config(_Section):
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    credits: CreditsConfig = Field(default_factory=CreditsConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)


def _format_error(error: ValidationError, source: str) -> str:
    lines = [f"{source}: the configuration is not valid."]
    for item in error.errors(include_url=False, include_input=False):
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check the spelling against config.example.toml)"
        elif item["type"] == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            message = f"must be one of {expected}"
        lines.append(f"  - {key}: {message}")
    return "\n".join(lines)


def config_from_mapping(
    data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None, source: str = "config"
) -> Config:
    """Validate a parsed TOML mapping, with secrets from the environment taking precedence."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {key: dict(value) if isinstance(value, Mapping) else value for key, value in data.items()}
    if env.get(ENV_DISCORD_TOKEN):
        discord_section = merged.setdefault("discord", {})
        if isinstance(discord_section, dict):
            discord_section["token"] = env[ENV_DISCORD_TOKEN]
    if env.get(ENV_API_KEY):
        provider_section = merged.setdefault("provider", {})
        if isinstance(provider_section, dict):
            provider_section["api_key"] = env[ENV_API_KEY]
    try:
        return Config.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_format_error(error, source)) from None


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config file.

    ``path`` falls back to ``$WANBOT_CONFIG``; with neither, the embedded defaults are used
    (SQLite under ``data/`` and the sandbox provider), which is what the offline demo runs on.
    """
    env = os.environ if environ is None else environ
    chosen = path if path is not None else env.get(ENV_CONFIG_PATH)
    if chosen is None:
        return config_from_mapping({}, environ=env, source="defaults")
    file = Path(chosen)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file (copy config.example.toml to start)") from None
    except OSError as error:
        raise ConfigError(f"{file}: cannot be read ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid TOML ({error})") from None
    return config_from_mapping(data, environ=env, source=str(file))
