"""Settings from MARAC_* environment variables and an optional TOML file.

Everything is validated at start so a bad value stops the bot with one line
that names the setting; the value itself is never echoed (it may be a token).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

TOKEN_PATTERN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{30,}$")
# Vault's own rules for a key name; a mount may be nested (e.g. "kms/transit").
VAULT_KEY_NAME = re.compile(r"^\w([\w.@-]*\w)?$")
VAULT_MOUNT = re.compile(r"^[\w.-]+(/[\w.-]+)*$")
# data_keys.kek_id holds "transit:<mount>/<key>:v<version>" in 64 characters.
VAULT_KEY_ID_ROOM = 64 - len("transit:") - len("/") - len(":v") - 10
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///marac.db"
# The webhook secret: Telegram allows 1-256 characters of this alphabet; we want at least 32,
# so it cannot be guessed by trying (token_urlsafe(32) gives 43 random ones).
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,256}$")
MAKE_WEBHOOK_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def bot_api_base_url(address: str) -> str:
    """A Bot API server's address as python-telegram-bot's ``base_url``: ending in ``/bot``."""
    address = address.rstrip("/")
    return address if address.endswith("/bot") else f"{address}/bot"


def bot_api_file_url(base_url: str) -> str:
    """The same server's ``base_file_url`` (``.../file/bot``), for downloads."""
    return bot_api_base_url(base_url).removesuffix("/bot") + "/file/bot"


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
    # The case workspace (a Telegram Mini App): its public HTTPS address, e.g.
    # https://marac.example.org/workspace. Unset, case content is shown in protected chat
    # messages that delete themselves instead. In webhook mode it is served on the webhook's
    # port; with long polling on workspace_listen:workspace_port. The reverse proxy passes the
    # address's path through unchanged.
    webapp_url: str | None = None
    workspace_listen: str = "127.0.0.1"
    workspace_port: int = Field(default=8090, ge=1, le=65535)
    # Coordinators get a summary at 08:00 local on working days.
    morning_digest: bool = True
    # Coordinators get an access review (everyone enrolled, last active) on the first working
    # day of each quarter, and agencies' representatives a reminder to report leavers.
    access_review: bool = True
    # Once a day the audit chain's head is signed and published outside the database: in the
    # log, to every coordinator, and to this file when set (bot/services/audit_checkpoints.py).
    audit_checkpoints: bool = True
    audit_checkpoint_file: Path | None = None
    # ``marac-bot backup`` writes encrypted, dated backups here and deletes those older than
    # backup_keep_days. A case's data keys are inside the database, so an erased case stays in
    # the backups made before its erasure until they are deleted: keep this short (see the
    # README's "Backups"). Relative to the working directory (/var/lib/marac-bot under systemd).
    backup_dir: Path = Path("backups")
    backup_keep_days: int = Field(default=30, ge=1, le=400)
    # How often the housekeeping job looks for due work (message deletion, reminders).
    job_interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Updates handled at once, never two from the same chat (bot/adapter/update_order.py); 1 handles
    # one at a time. PostgreSQL's pool is sized from it (storage.db.create_engine).
    concurrent_updates: int = Field(default=8, ge=1, le=32)
    # Active/standby on PostgreSQL (bot/adapter/leader.py): how often a standby tries for the leader
    # lease, and how often the active process confirms it still holds it (each check may take
    # 2 s and must end before the lease session's 15 s idle timeout).
    leader_poll_seconds: float = Field(default=5.0, gt=0, le=10)
    leader_check_seconds: float = Field(default=5.0, gt=0, le=12)
    # Where the key-encryption key lives (storage/kek_sources.py): "file" uses key_file (or
    # MARAC_KEYS); "vault" wraps data keys with HashiCorp Vault's transit engine, and the key
    # file then only holds the blind-index key. The token comes from MARAC_VAULT_TOKEN_FILE or
    # the VAULT_TOKEN variable, never from here, so it cannot end up in a settings repr.
    kek_source: Literal["file", "vault"] = "file"
    vault_url: str | None = Field(default=None, validate_default=True)
    vault_mount: str = "transit"
    vault_transit_key: str = "marac-bot"
    vault_token_file: Path | None = None
    vault_namespace: str | None = None
    vault_ca_cert: Path | None = None
    vault_timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("telegram_token")
    @classmethod
    def _token_present(cls, value: SecretStr | None) -> SecretStr | None:
        # Its shape is checked by token(), when a command needs it: init works without one.
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_strong(cls, value: SecretStr | None) -> SecretStr | None:
        """Anyone who knows the secret can post updates as any user: it must not be guessable.

        Checked when settings load, so ``run`` stops at once with the way to make one; the
        value itself is never echoed.
        """
        if value is None or not value.get_secret_value():
            return None
        if not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError(
                "must be at least 32 characters of A-Z, a-z, 0-9, _ and - (at most 256); "
                f"make one with: {MAKE_WEBHOOK_SECRET}"
            )
        return value

    @field_validator("telegram_base_url")
    @classmethod
    def _base_url_shape(cls, value: str | None) -> str | None:
        """python-telegram-bot's ``base_url``: the server's address followed by ``/bot``.

        ``https://api.telegram.org/bot`` is Telegram itself; the token is appended to it.
        An address without the ``/bot`` (``http://127.0.0.1:8081``) is accepted as well.
        """
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https://")
        return bot_api_base_url(value)

    @field_validator("webapp_url")
    @classmethod
    def _webapp_url_shape(cls, value: str | None) -> str | None:
        """Telegram opens Mini Apps over HTTPS only; plain HTTP is for this machine alone."""
        if value is None or value == "":
            return None
        local = re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?(/|$)", value)
        if not (value.startswith("https://") or local):
            raise ValueError("must start with https:// (Telegram opens Mini Apps over HTTPS)")
        if not re.match(r"^https?://[^\s/?#]+/[A-Za-z0-9._~-][A-Za-z0-9._~/-]*$", value):
            raise ValueError(
                "must be an address with a path of its own and no query, like "
                "https://marac.example.org/workspace"
            )
        return value.rstrip("/")

    @field_validator("kek_source", mode="before")
    @classmethod
    def _kek_source_choice(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in {"file", "vault"}:
            return value.strip().lower()
        raise ValueError("must be file or vault")

    @field_validator("vault_url")
    @classmethod
    def _vault_url_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            if info.data.get("kek_source") == "vault":
                raise ValueError("must be set when MARAC_KEK_SOURCE is vault (https://host:8200)")
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("vault_mount")
    @classmethod
    def _vault_mount_shape(cls, value: str) -> str:
        value = value.strip("/")
        if not VAULT_MOUNT.match(value):
            raise ValueError("must be a Vault mount path such as transit")
        return value

    @field_validator("vault_transit_key")
    @classmethod
    def _vault_key_shape(cls, value: str, info: ValidationInfo) -> str:
        if not VAULT_KEY_NAME.match(value):
            raise ValueError("must be a transit key name (letters, digits, _ . @ -)")
        mount = info.data.get("vault_mount")
        if isinstance(mount, str) and len(mount) + len(value) > VAULT_KEY_ID_ROOM:
            raise ValueError(
                f"and MARAC_VAULT_MOUNT together must be at most {VAULT_KEY_ID_ROOM} characters"
            )
        return value

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
        token = self.telegram_token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise SettingsError(
                "MARAC_TELEGRAM_TOKEN does not look like a bot token from @BotFather. "
                "A token is the bot's number, a colon, then 30 or more letters, digits, "
                "- or _ (like 123456789:AAH4kK...), with no spaces or quotes."
            )
        return token


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
