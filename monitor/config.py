"""Configuration: one TOML file, overridden by `PARCEL_MONITOR_*` environment variables.

Where the file is: `--config`, else `$PARCEL_MONITOR_CONFIG`, else `config.toml` in systemd's
`$CONFIGURATION_DIRECTORY`, else the user's config directory (`~/.config/parcel-monitor/`), else
`/etc/parcel-monitor/config.toml`; none at all means defaults. Nested keys in the environment use
`__`: `PARCEL_MONITOR_RULES__STALLED_AFTER=10d`.
Unknown keys are errors at every level, so a typo never silently means "default".

Secrets stay out of the file and the environment: any string value written `"credential:NAME"`
(in the file or a variable) is replaced by the contents of `$CREDENTIALS_DIRECTORY/NAME`, the
directory where systemd puts what the unit's `LoadCredential=NAME:/path` names.
"""

from __future__ import annotations

import os
import tomllib
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from monitor.durations import Interval
from monitor.errors import ConfigError
from monitor.mail.settings import MailSettings
from monitor.mqtt.settings import MqttSettings
from monitor.notify.masking import mask_url, mask_urls_in
from monitor.notify.settings import NotifySettings
from monitor.rules.base import BuyerSettings, RuleSettings
from monitor.web.settings import HttpSettings
from monitor.zones import ZoneName

APP = "parcel-monitor"
ENV_PREFIX = "PARCEL_MONITOR_"
SECRET_WORDS = ("key", "password", "token", "secret", "pass")
CREDENTIAL_PREFIX = "credential:"


class LogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = Field(
        "auto", description="auto: readable on a terminal, JSON lines otherwise"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    state_dir: Path | None = Field(None, description="where the database lives")
    plugin_dirs: tuple[Path, ...] = Field((), description="folders with extra source plugins")
    tick_every: Interval = Field(
        timedelta(minutes=1), description="how often deadlines are checked"
    )
    sync_every: Interval = Field(
        timedelta(seconds=5), description="how often the daemon picks up orders changed by the CLI"
    )
    timezone: ZoneName | None = Field(
        None,
        description="IANA zone for every date people see or type (default: the system's zone)",
    )
    log: LogSettings = LogSettings()
    rules: RuleSettings = RuleSettings()
    buyer: BuyerSettings = Field(
        default_factory=BuyerSettings, description="[buyer]: the buyer's own address"
    )
    notify: NotifySettings = Field(default_factory=NotifySettings, description="[notify]")
    source_order: tuple[str, ...] = Field(
        (), description="preferred sources first; the others follow in their section order"
    )
    sources_per_number: int = Field(
        1, ge=1, le=5, description="how many sources follow one number (more merge their scans)"
    )
    mqtt: MqttSettings = MqttSettings()
    http: HttpSettings = HttpSettings()
    mail: MailSettings = Field(default_factory=MailSettings, description="[mail] (docs/mail.md)")
    sources: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="[sources.<name>] sections, checked by each plugin"
    )
    default_sources: tuple[str, ...] = Field(
        ("cainiao",),
        description="sources turned on when no [sources.<name>] section is configured "
        "(they need no account); [] for none",
    )

    @model_validator(mode="before")
    @classmethod
    def _read_credentials(cls, data: Any) -> Any:
        # "before" sees the file and the environment merged, so both may name a credential.
        return resolve_credentials(data, ())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's contents arrive as init arguments; the environment overrides the file.
        return (env_settings, init_settings, file_secret_settings)

    # --- [buyer] ---------------------------------------------------------------------------

    @field_validator("rules", mode="before")
    @classmethod
    def _no_buyer_in_rules(cls, value: Any) -> Any:
        if isinstance(value, dict) and "buyer" in value:
            raise ValueError("unknown key 'buyer': the buyer's address goes in the [buyer] section")
        return value

    @model_validator(mode="after")
    def _buyer_for_rules(self) -> Settings:
        # The rules see the buyer's address through their settings; people write it in [buyer].
        # A frozen model: set once here, while it is still being built.
        object.__setattr__(self, "rules", self.rules.model_copy(update={"buyer": self.buyer}))
        return self

    # ---------------------------------------------------------------------------------------

    def zone(self) -> tzinfo:
        """The one zone dates are shown and typed in: `timezone`, else [notify] timezone (its
        older name), else the system's local zone."""
        name = self.timezone or self.notify.timezone
        if name:
            return ZoneInfo(name)
        local = datetime.now().astimezone().tzinfo
        assert local is not None  # astimezone() always attaches one
        return local

    def resolved_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir.expanduser()
        systemd = os.environ.get("STATE_DIRECTORY")
        if systemd:
            return Path(systemd.split(":")[0])
        return Path(platformdirs.user_state_dir(APP, appauthor=False))

    @property
    def database(self) -> Path:
        return self.resolved_state_dir() / "parcel-monitor.db"


def resolve_credentials(value: Any, key: tuple[str, ...]) -> Any:
    """`value` with every `"credential:NAME"` string replaced by that credential's contents."""
    if isinstance(value, dict):
        return {k: resolve_credentials(v, (*key, str(k))) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(resolve_credentials(v, key) for v in value)
    if isinstance(value, str) and value.startswith(CREDENTIAL_PREFIX):
        return read_credential(value.removeprefix(CREDENTIAL_PREFIX), ".".join(key))
    return value


def read_credential(name: str, key: str) -> str:
    folder = os.environ.get("CREDENTIALS_DIRECTORY")
    where = f"{key}: credential {name!r}"
    if not folder:
        raise ConfigError(
            f"{where}: $CREDENTIALS_DIRECTORY is not set; run under systemd with "
            f"LoadCredential={name}:/path/to/file (see docs/systemd.md)"
        )
    if not name or "/" in name or name in (".", ".."):
        raise ConfigError(f"{where}: not a credential name")
    path = Path(folder) / name
    try:
        # One trailing newline is how editors save files, never part of the secret.
        return path.read_text(encoding="utf-8").removesuffix("\n")
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read {path}: {exc.strerror or exc}; is there a "
            f"LoadCredential={name}:... line in the unit?"
        ) from None


def default_config_paths() -> list[Path]:
    # Under systemd (ConfigurationDirectory=) the unit says where; a DynamicUser has no home.
    systemd = os.environ.get("CONFIGURATION_DIRECTORY")
    return [
        *([Path(systemd.split(":")[0]) / "config.toml"] if systemd else []),
        Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml",
        Path("/etc/parcel-monitor/config.toml"),
    ]


def find_config(explicit: Path | None) -> Path | None:
    """The config file to read, or None for defaults. An explicitly named file must exist."""
    named = explicit or (
        Path(os.environ["PARCEL_MONITOR_CONFIG"])
        if os.environ.get("PARCEL_MONITOR_CONFIG")
        else None
    )
    if named is not None:
        if not named.is_file():
            raise ConfigError(f"{named}: configuration file not found")
        return named
    return next((path for path in default_config_paths() if path.is_file()), None)


def env_name(loc: tuple[Any, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def describe_errors(error: ValidationError, origin: str, *, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem: where, which key, what is wrong and the value that was given."""
    lines = []
    for problem in error.errors():
        loc = (*prefix, *problem["loc"])
        key = ".".join(str(part) for part in loc)
        message = mask_urls_in(problem["msg"].removeprefix("Value error, "))
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        got = problem.get("input")
        shown = ""
        # An unknown key's value is never shown: a typo'd `pasword` still holds the password.
        if problem["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict):
            shown = f" (got {mask(key, got)!r})"
        lines.append(f"{origin}: {key}: {message}{shown} [env {env_name(loc)}]")
    return "\n".join(lines)


def mask(key: str, value: Any) -> Any:
    """A value fit to print: secrets by their key's name hidden, credentials in URLs masked."""
    if any(word in key.lower().rsplit(".", 1)[-1] for word in SECRET_WORDS) and value:
        return "********"
    if isinstance(value, str):
        return mask_urls_in(value)
    if isinstance(value, list | tuple):
        return [mask(key, item) for item in value]
    return value


def load_settings(explicit: Path | None = None) -> tuple[Settings, Path | None]:
    """Read the config file (if any) and the environment; raise ConfigError naming the problem."""
    path = find_config(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    origin = str(path) if path else "environment"
    try:
        return Settings(**data), path
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, origin)) from None
    except SettingsError as exc:  # an environment value that should be JSON and is not
        raise ConfigError(f"{origin}: {mask_urls_in(str(exc))}") from None


def effective(settings: Settings, sources: dict[str, BaseModel]) -> dict[str, Any]:
    """The configuration as the daemon will use it, secrets masked (for `config check`)."""
    data = settings.model_dump(mode="json", exclude={"sources"})
    data["state_dir"] = str(settings.resolved_state_dir())
    data["notify"]["urls"] = [mask_url(url) for url in settings.notify.urls]
    if data["mqtt"].get("url"):
        data["mqtt"]["url"] = mask_url(data["mqtt"]["url"])
    data["sources"] = {
        name: {key: mask(key, value) for key, value in model.model_dump(mode="json").items()}
        for name, model in sources.items()
    }
    return data
