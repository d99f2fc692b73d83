"""Settings from MARAC_* environment variables and an optional TOML file.

Everything is validated at start so a bad value stops the bot with one line
that names the setting; the value itself is never echoed (it may be a token).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///marac.db"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is safe to print."""


class Settings(BaseModel):
    """The bot's configuration. Field names map to MARAC_<NAME> variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    telegram_token: SecretStr | None = None
    telegram_base_url: str | None = None
    bot_username: str | None = None
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    key_file: Path = Path("marac-keys.json")
    timezone: str = "Europe/London"
    invite_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    sensitive_message_ttl_minutes: int = Field(default=15, ge=1, le=47 * 60)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    # Webhook mode (marac-bot run --webhook), behind a reverse proxy that terminates TLS.
    webhook_public_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    # Coordinators get a summary at 08:00 local on working days.
    morning_digest: bool = True
    # How often the housekeeping job looks for due work (message deletion, reminders).
    job_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Active/standby on PostgreSQL (bot/leader.py): how often a standby tries for the leader
    # lease, and how often the active process confirms it still holds it (each check may take
    # 2 s and must end before the lease session's 15 s idle timeout).
    leader_poll_seconds: float = Field(default=5.0, gt=0, le=10)
    leader_check_seconds: float = Field(default=5.0, gt=0, le=12)

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url_shape(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (
            value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")
        ):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError("is not a known IANA time zone such as Europe/London") from exc
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    def token(self) -> str:
        """The bot token, or a clear error when the chosen mode needs one."""
        if self.telegram_token is None:
            raise SettingsError(
                "MARAC_TELEGRAM_TOKEN is not set: get a token from @BotFather and set it."
            )
        return self.telegram_token.get_secret_value()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(f"MARAC_CONFIG points to {path}, which does not exist.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    section = data.get("marac", data)
    if not isinstance(section, dict):
        raise SettingsError(f"{path}: [marac] must be a table.")
    return section


def load_settings(
    environ: dict[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Build settings: TOML file values first, MARAC_* variables override them."""
    env = dict(os.environ if environ is None else environ)
    path = config_file or (Path(env["MARAC_CONFIG"]) if env.get("MARAC_CONFIG") else None)
    values: dict[str, Any] = _read_toml(path) if path else {}
    for name in Settings.model_fields:
        key = f"MARAC_{name.upper()}"
        if key in env:
            values[name] = env[key]
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            raise SettingsError(f"Unknown setting '{field}' in the config file.") from None
        raise SettingsError(f"MARAC_{field.upper()} {message}.") from None
