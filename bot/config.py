"""Configuration: one TOML file validated into pydantic models, loaded once in main.

Secrets come from the environment first (``DISCORD_TOKEN``, ``WAN_API_KEY``,
``WANBOT_WEBHOOK_SECRET``) and are kept as ``SecretStr`` so they never show up in a repr, a log
line or an error message. ``WAN_PROVIDER`` picks the provider beside the key.

Which file: ``--config``, else ``$WANBOT_CONFIG``, else ``config.toml`` in the working directory,
else the built-in defaults. A relative ``[database] path`` is relative to the config file's folder.
What the operator should know about the choices made (which file, a secret written in the file,
a key that is ignored) is kept in ``Config.notes`` and logged once logging is set up.
"""

from __future__ import annotations

import os
import re
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
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.domain.models import Duration, Resolution
from bot.domain.moderation import RuleKind
from bot.domain.pricing import DEFAULT_PRICES, Prices
from bot.domain.rules import validate_rule
from bot.domain.schedule import DEFAULT_PATIENCE
from bot.errors import InvalidRequest

ProviderKind = Literal["wan26ai", "apimall", "sandbox"]
RefillPeriod = Literal["daily", "weekly", "monthly", "never"]
ResultStyle = Literal["card", "classic"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "wan26ai": "https://wan26ai.app",
    "apimall": "https://gateway.apimall.ai",
    "sandbox": "",
}

ENV_CONFIG_PATH = "WANBOT_CONFIG"
ENV_DISCORD_TOKEN = "DISCORD_TOKEN"  # noqa: S105 - the variable's name, not a secret
ENV_API_KEY = "WAN_API_KEY"
ENV_PROVIDER = "WAN_PROVIDER"
DEFAULT_CONFIG_FILE = "config.toml"
ENV_WEBHOOK_SECRET = "WANBOT_WEBHOOK_SECRET"  # noqa: S105 - the variable's name, not a secret


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is allowed."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DiscordConfig(_Section):
    token: SecretStr = SecretStr("")
    dev_guild_ids: list[PositiveInt] = Field(default_factory=list)
    # When set, the bot serves only these servers and leaves any other it is added to.
    allowed_guild_ids: list[PositiveInt] = Field(default_factory=list)
    # More than one process (README): the total number of shards across every process, and the
    # ones this process runs (empty = all of them). discord.py needs the total with the range.
    shard_count: PositiveInt | None = None
    shard_ids: list[Annotated[int, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _shard_range_is_usable(self) -> DiscordConfig:
        ids = self.shard_ids
        if ids is None:
            return self
        if self.shard_count is None:
            raise ValueError(
                "shard_ids needs [discord] shard_count: the total number of shards across all processes "
                "(discord.py requires both), e.g. shard_count = 4 with shard_ids = [0, 1] here and [2, 3] "
                "in the other process"
            )
        if not ids:
            raise ValueError("shard_ids is empty: list this process's shards, or leave it out to run all of them")
        for shard_id in ids:
            if shard_id >= self.shard_count:
                raise ValueError(
                    f"shard id {shard_id} is not below shard_count {self.shard_count} (shards are numbered from 0)"
                )
            if ids.count(shard_id) > 1:
                raise ValueError(f"shard_ids lists {shard_id} twice")
        return self

    @property
    def sharded(self) -> bool:
        """Run an ``AutoShardedBot`` (``bot.sharding``) rather than one plain gateway connection."""
        return self.shard_count is not None


class ProviderConfig(_Section):
    kind: ProviderKind = "sandbox"
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    poll_interval_seconds: Annotated[float, Field(ge=1, le=3600)] = 5
    # Status gaps as a share of the time a job has rendered: a finished render is seen within about
    # this share of its render time; smaller costs more requests (see README, Providers).
    poll_patience: Annotated[float, Field(ge=0.02, le=1)] = DEFAULT_PATIENCE
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
    # postgresql://user:password@host/dbname: use PostgreSQL instead of the SQLite file at ``path``
    # (the backend for more than one bot process). Secret: it may carry a password.
    url: SecretStr = SecretStr("")

    @field_validator("url")
    @classmethod
    def _postgres_only(cls, value: SecretStr) -> SecretStr:
        text = value.get_secret_value()
        if text and not text.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql:// (leave it out and set path for SQLite)")
        return value

    @property
    def target(self) -> str:
        """What ``Database.open`` takes: the PostgreSQL URL when set, else the SQLite file."""
        return self.url.get_secret_value() or self.path

    @field_validator("path")
    @classmethod
    def _path_is_a_file(cls, value: str) -> str:
        value = value.strip()
        # Both would make SQLite use a temporary database that loses everything at the next restart.
        if not value or value == ":memory:":
            raise ValueError('must name a file, e.g. "data/wanbot.sqlite3" (an empty path would lose every credit)')
        return str(Path(value).expanduser())


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
    p720: DurationPrices = Field(alias="720p", default_factory=lambda: _default_prices("720p"))
    p1080: DurationPrices = Field(alias="1080p", default_factory=lambda: _default_prices("1080p"))

    def price(self, resolution: Resolution, duration: Duration) -> int:
        return self.prices().price(resolution, duration)

    def prices(self) -> Prices:
        """The table as the domain rule (``bot.domain.pricing``) that prices every job."""
        return Prices(
            {
                "720p": {5: self.p720.s5, 10: self.p720.s10, 15: self.p720.s15},
                "1080p": {5: self.p1080.s5, 10: self.p1080.s10, 15: self.p1080.s15},
            }
        )


def _default_prices(resolution: Resolution) -> DurationPrices:
    row = DEFAULT_PRICES.table[resolution]
    return DurationPrices.model_validate({str(seconds): credits for seconds, credits in row.items()})


class CreditsConfig(_Section):
    # Defaults for every server; admins override the allowance and period per server (/wan-admin).
    default_allowance: Annotated[int, Field(ge=0, le=10_000_000)] = 500
    refill_period: RefillPeriod = "weekly"
    prices: PriceTable = Field(default_factory=PriceTable)
    # Jobs priced above this ask the member to press Confirm before anything is held.
    confirm_above: Annotated[int, Field(ge=0, le=10_000_000)] = 200
    # Anti-farming: an allowance only for accounts and memberships at least this old (0 = no minimum).
    min_account_age_days: Annotated[float, Field(ge=0, le=3650)] = 0
    min_membership_days: Annotated[float, Field(ge=0, le=3650)] = 0


class BudgetConfig(_Section):
    """Caps on credits spent (held + kept) per period: what protects the operator's provider account."""

    # The window both caps count over; a server's admins may choose another one for their server.
    period: RefillPeriod = "monthly"
    # Default cap per server per period until its admins set one (0 = no cap).
    server_cap: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0
    # One cap across every server the bot is in (0 = no cap).
    global_cap: Annotated[int, Field(ge=0, le=1_000_000_000)] = 0


class LimitsConfig(_Section):
    """Fairness between members, and the provider's concurrency limit."""

    # Jobs one member may have queued or rendering at once in a server.
    max_running_per_member: Annotated[int, Field(ge=1, le=100)] = 3
    # Seconds between two jobs of one member (jobs that were refunded do not count).
    cooldown_seconds: Annotated[float, Field(ge=0, le=86_400)] = 20
    # Jobs at the provider at once, across all servers (providers answer 429 beyond their own limit).
    # The rest wait in a queue that takes one job per member in turn.
    max_in_flight: Annotated[int, Field(ge=1, le=1000)] = 4


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
    # "card": one Components V2 message (video, prompt, settings, buttons); "classic": file + embed + buttons.
    result_style: ResultStyle = "card"


class LoopConfig(_Section):
    # How often the background loop wakes to look for due jobs. Per-job pacing is separate.
    tick_seconds: Annotated[float, Field(ge=0.5, le=60)] = 2
    # Jobs handled concurrently within one tick.
    concurrency: Annotated[int, Field(ge=1, le=100)] = 8
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200


_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_ANY_ADDRESS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared against, never bound here


class WebConfig(_Section):
    """The bot's own small HTTP server: completion callbacks, /healthz and /metrics."""

    enabled: StrictBool = False
    host: str = "127.0.0.1"
    # 0 picks a free port (tests); the bound port is logged at start-up.
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Requests with a larger body are refused (413) before anything reads them.
    max_body_kb: Annotated[int, Field(ge=1, le=1024)] = 64
    # /healthz reports unhealthy when the job loop has not finished a tick for this long.
    # A tick includes result downloads and uploads, so this must exceed the slowest one.
    max_tick_age_seconds: Annotated[float, Field(ge=5, le=86_400)] = 300


def _http_base_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("must start with https:// (or http:// for a local test), or be empty")
    return value


class CallbacksConfig(_Section):
    """Completion callbacks: a hint from the provider that makes the bot check a job at once."""

    enabled: StrictBool = False
    # The address the provider can reach [web] at, e.g. https://bot.example.org (behind a proxy).
    # Empty: http://<web.host>:<bound port>, only useful when the provider is on the same network.
    public_base_url: str = ""
    # apimall's account-level webhook secret (the env var WANBOT_WEBHOOK_SECRET wins). Empty: the
    # apimall webhook route refuses every delivery, because nothing could be verified.
    apimall_webhook_secret: SecretStr = SecretStr("")
    # Assumption (apimall documents neither): the signature is the hex HMAC-SHA256 of the raw body,
    # optionally prefixed "sha256=", in this header.
    apimall_signature_header: str = "X-Signature"
    # Optional: a header carrying the delivery's Unix time. When set, the signed text is
    # "<timestamp>.<raw body>" and deliveries older or newer than the tolerance are refused.
    apimall_timestamp_header: str = ""
    apimall_timestamp_tolerance_seconds: Annotated[int, Field(ge=10, le=86_400)] = 300

    @field_validator("public_base_url")
    @classmethod
    def _public_base_url_is_http(cls, value: str) -> str:
        return _http_base_url(value)

    @field_validator("apimall_signature_header", "apimall_timestamp_header")
    @classmethod
    def _header_name(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value and not _HEADER_NAME.match(value):
            raise ValueError("must be an HTTP header name (letters, digits and dashes)")
        if not value and info.field_name == "apimall_signature_header":
            raise ValueError("must not be empty")
        return value


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


class StoreConfig(_Section):
    """Credit packs sold in Discord's store: SKU id (as a string, TOML keys are strings) to credits.
    Empty (the default) means the store is off and nothing about it shows."""

    packs: dict[str, Annotated[int, Field(ge=1, le=10_000_000)]] = Field(default_factory=dict)

    @field_validator("packs")
    @classmethod
    def _sku_ids_are_snowflakes(cls, packs: dict[str, int]) -> dict[str, int]:
        for key in packs:
            if not key.isdigit() or not 0 < int(key) < 2**64:
                raise ValueError(f"{key!r} is not a SKU id (the number from the Developer Portal's SKU page)")
        return packs

    def credits_for(self, sku_id: int) -> int | None:
        return self.packs.get(str(sku_id))


def _check_rule(kind: RuleKind, value: str) -> None:
    try:
        validate_rule(kind, value)
    except InvalidRequest as error:
        raise ValueError(f"{value!r}: {error.message}") from None


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    # "json": one JSON object per line (time, level, logger, message), for log collectors.
    format: Literal["text", "json"] = "text"


class Config(_Section):
    discord: DiscordConfig = Field(default_factory=DiscordConfig)
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    credits: CreditsConfig = Field(default_factory=CreditsConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    requests: RequestsConfig = Field(default_factory=RequestsConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    moderation: ModerationConfig = Field(default_factory=ModerationConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _callbacks_need_the_server(self) -> Config:
        if self.callbacks.enabled:
            if not self.web.enabled:
                raise ValueError("callbacks.enabled needs web.enabled = true (callbacks arrive on that server)")
            if not self.callbacks.public_base_url and self.web.host.strip() in _ANY_ADDRESS:
                raise ValueError(
                    "callbacks.public_base_url is required when web.host listens on every address: "
                    "give the URL the provider can reach the bot at"
                )
        return self


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
    data: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    source: str = "config",
    base_dir: Path | None = None,
) -> Config:
    """Validate a parsed TOML mapping, with secrets from the environment taking precedence.

    ``base_dir``: the config file's folder, which a relative ``[database] path`` is relative to.
    """
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {key: dict(value) if isinstance(value, Mapping) else value for key, value in data.items()}
    for variable, (section, key) in _ENV_OVERRIDES.items():
        if env.get(variable):
            target = merged.setdefault(section, {})
            if isinstance(target, dict):
                target[key] = env[variable].strip() if variable == ENV_PROVIDER else env[variable]
    database = merged.get("database")
    if base_dir is not None and isinstance(database, dict) and isinstance(database.get("path"), str):
        given = database["path"].strip()
        path = Path(given).expanduser()
        if given and given != ":memory:" and not path.is_absolute():
            database["path"] = str(base_dir / path)
    try:
        return Config.model_validate(merged)
    except ValidationError as error:
        text = _format_error(error, source)
        if env.get(ENV_PROVIDER):
            text = text.replace("  - provider.kind:", f"  - provider.kind (from {ENV_PROVIDER}):")
        raise ConfigError(text) from None


# Environment variable -> (section, key) it overrides.
_ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    ENV_DISCORD_TOKEN: ("discord", "token"),
    ENV_API_KEY: ("provider", "api_key"),
    ENV_PROVIDER: ("provider", "kind"),
    ENV_WEBHOOK_SECRET: ("callbacks", "apimall_webhook_secret"),
}
_SECRET_KEYS: dict[tuple[str, str], str] = {
    (section, key): variable for variable, (section, key) in _ENV_OVERRIDES.items() if variable != ENV_PROVIDER
}


def load_config(path: str | os.PathLike[str] | None = None, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config file (see the module docstring for which file)."""
    return load_config_with_notes(path, environ=environ)[0]


def load_config_with_notes(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[Config, list[str]]:
    """The config and what the operator should be told about it (logged as warnings by ``run``)."""
    env = os.environ if environ is None else environ
    notes: list[str] = []
    chosen = path if path is not None else env.get(ENV_CONFIG_PATH)
    if chosen is None:
        found = (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
        if not found.is_file():
            config = config_from_mapping({}, environ=env, source="defaults")
            return config, [*notes, *provider_notes(config, env)]
        chosen = found
        notes.append(f"using {found} from the working directory (no --config or {ENV_CONFIG_PATH} given)")
    file = Path(chosen).expanduser()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such config file (copy config.example.toml to start)") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a config file") from None
    except OSError as error:
        raise ConfigError(f"{file}: cannot be read ({error.strerror})") from None
    try:
        # utf-8-sig: editors on Windows save a byte-order mark that TOML itself does not allow.
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid TOML ({error})") from None
    config = config_from_mapping(data, environ=env, source=str(file), base_dir=file.resolve().parent)
    for (section, key), variable in _SECRET_KEYS.items():
        table = data.get(section)
        if isinstance(table, Mapping) and isinstance(table.get(key), str) and table[key].strip():
            notes.append(
                f"[{section}] {key} is written in {file}: anyone who can read the file has it."
                f" Set the {variable} environment variable instead and delete the key from the file"
            )
    return config, [*notes, *provider_notes(config, env)]


def provider_summary(config: Config) -> str:
    """Which provider is live, in one phrase (start-up log and ``check``)."""
    settings = config.provider
    kind = settings.effective_kind
    if kind == "sandbox":
        return "sandbox (free sample videos, no provider account is charged)"
    return f"{kind} at {settings.effective_base_url} (real renders, paid from the provider account)"


def provider_notes(config: Config, environ: Mapping[str, str] | None = None) -> list[str]:
    """Why the live provider may not be the one the operator expects."""
    env = os.environ if environ is None else environ
    settings = config.provider
    has_key = bool(settings.api_key.get_secret_value())
    if settings.kind == "sandbox" and has_key:
        return [
            f"a provider API key is set but ignored: the provider is sandbox. Set {ENV_PROVIDER}=wan26ai"
            f" or {ENV_PROVIDER}=apimall (or [provider] kind) to use it"
        ]
    if settings.kind != "sandbox" and not has_key:
        chosen = f"{ENV_PROVIDER}={settings.kind}" if env.get(ENV_PROVIDER) else f"[provider] kind = {settings.kind}"
        return [f"{chosen} but no API key is set, so the free sandbox runs instead. Set {ENV_API_KEY}"]
    return []


def safety_warnings(config: Config) -> list[str]:
    """Settings that let strangers spend the operator's provider account (start-up log and ``check``)."""
    if config.provider.effective_kind == "sandbox":
        return []
    if config.budget.global_cap == 0 and not config.discord.allowed_guild_ids:
        return [
            "a paid provider is live with no [budget] global_cap and no [discord] allowed_guild_ids: any server"
            " the bot is added to can spend the provider account without limit. Set one or both (README:"
            " 'Keeping the bot private')"
        ]
    return []
