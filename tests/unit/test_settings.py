"""Settings: defaults, validation messages an operator can act on, and no leaked secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import Settings, SettingsError, load_settings
from config.settings import DEFAULT_DATABASE_URL, bot_api_file_url

GOOD_TOKEN = "123456789:AAFakeTokenForTests_abcdefghijklmnopq"


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "marac.toml"
    path.write_text(text)
    return path


def error_for(environ: dict[str, str], config_file: Path | None = None) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, config_file)
    message = str(caught.value)
    assert "\n" not in message, "the error should be one line"
    return message


def test_defaults_with_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.database_url.startswith("sqlite+aiosqlite://")
    assert settings.timezone == "Europe/London"
    assert settings.telegram_token is None
    assert settings.invite_ttl_hours == 72
    assert settings.log_level == "INFO"


def test_load_settings_ignores_the_real_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MARAC_TIMEZONE", "Not/AZone")
    assert load_settings({}).timezone == "Europe/London"


def test_environment_values_are_used() -> None:
    settings = load_settings(
        {
            "MARAC_TELEGRAM_TOKEN": GOOD_TOKEN,
            "MARAC_TIMEZONE": "America/New_York",
            "MARAC_INVITE_TTL_HOURS": "24",
            "MARAC_LOG_LEVEL": "debug",
            "MARAC_KEY_FILE": "/etc/marac/keys.json",
            "UNRELATED": "ignored",
        }
    )
    assert settings.token() == GOOD_TOKEN
    assert settings.timezone == "America/New_York"
    assert settings.invite_ttl_hours == 24
    assert settings.log_level == "DEBUG"
    assert settings.key_file == Path("/etc/marac/keys.json")


@pytest.mark.parametrize(
    "bad_token",
    [
        "not-a-token",
        "123456:short",
        "abc:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "123456 ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij",
        "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh!j",
        "",
    ],
    ids=["words", "short-secret", "letters-id", "no-colon", "bad-char", "empty"],
)
def test_malformed_token_names_the_setting_and_hides_the_value(bad_token: str) -> None:
    """Loading succeeds (``init`` needs no token); asking for the token says what is wrong."""
    settings = load_settings({"MARAC_TELEGRAM_TOKEN": bad_token})
    with pytest.raises(SettingsError) as caught:
        settings.token()
    message = str(caught.value)
    assert "\n" not in message
    assert "MARAC_TELEGRAM_TOKEN" in message
    if bad_token:
        assert "a colon, then 30 or more letters, digits, - or _" in message
        assert bad_token not in message
        assert bad_token.split(":")[-1] not in message
    else:
        assert "is not set" in message


def test_malformed_token_from_the_config_file_is_not_echoed(tmp_path: Path) -> None:
    secretish = "123456:this token has spaces in it oops"
    path = write_toml(tmp_path, f'[marac]\ntelegram_token = "{secretish}"\n')
    settings = load_settings({}, path)
    assert secretish not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        settings.token()
    message = str(caught.value)
    assert "MARAC_TELEGRAM_TOKEN" in message
    assert secretish not in message
    assert "oops" not in message


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/london", "../etc/passwd", ""])
def test_unknown_time_zone_is_reported(zone: str) -> None:
    message = error_for({"MARAC_TIMEZONE": zone})
    assert "MARAC_TIMEZONE" in message
    if zone:
        assert zone not in message


def test_time_zone_region_without_a_city_is_reported() -> None:
    message = error_for({"MARAC_TIMEZONE": "Europe"})
    assert "MARAC_TIMEZONE" in message


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:hunter2@db/marac",
        "sqlite:///marac.db",
        "marac.db",
        "postgresql+psycopg://user:hunter2@db/marac",
    ],
)
def test_bad_database_url_is_reported_without_the_password(url: str) -> None:
    message = error_for({"MARAC_DATABASE_URL": url})
    assert "MARAC_DATABASE_URL" in message
    assert "hunter2" not in message
    assert url not in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://marac@db:5432/marac", "postgresql+asyncpg://marac@db:5432/marac"),
        ("postgres://marac@db/marac", "postgresql+asyncpg://marac@db/marac"),
        ("postgresql+asyncpg://marac@db/marac", "postgresql+asyncpg://marac@db/marac"),
        ("sqlite+aiosqlite:///tmp/x.db", "sqlite+aiosqlite:///tmp/x.db"),
    ],
)
def test_database_url_is_made_async(given: str, expected: str) -> None:
    assert load_settings({"MARAC_DATABASE_URL": given}).database_url == expected


def test_toml_values_load_and_environment_overrides_them(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        "[marac]\n"
        'timezone = "Europe/Paris"\n'
        "invite_ttl_hours = 48\n"
        'database_url = "postgresql://file@db/marac"\n',
    )
    from_file = load_settings({}, path)
    assert from_file.timezone == "Europe/Paris"
    assert from_file.invite_ttl_hours == 48
    assert from_file.database_url == "postgresql+asyncpg://file@db/marac"

    overridden = load_settings({"MARAC_TIMEZONE": "Asia/Tokyo"}, path)
    assert overridden.timezone == "Asia/Tokyo"
    assert overridden.invite_ttl_hours == 48  # untouched values still come from the file


def test_toml_without_a_marac_table_is_read_at_top_level(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'timezone = "Europe/Dublin"\n')
    assert load_settings({}, path).timezone == "Europe/Dublin"


def test_marac_config_variable_points_at_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[marac]\ntimezone = "Europe/Berlin"\n')
    assert load_settings({"MARAC_CONFIG": str(path)}).timezone == "Europe/Berlin"


def test_unknown_key_in_toml_is_reported(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[marac]\ntimezone = "Europe/London"\ntime_zone = "UTC"\n')
    message = error_for({}, path)
    assert "time_zone" in message
    assert "Unknown setting" in message


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    message = error_for({}, missing)
    assert str(missing) in message
    assert "does not exist" in message
    message = error_for({"MARAC_CONFIG": str(missing)})
    assert str(missing) in message


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[marac]\ntimezone = \n")
    message = error_for({}, path)
    assert str(path) in message
    assert "TOML" in message


def test_marac_that_is_not_a_table_is_reported(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'marac = "yes"\n')
    assert "[marac]" in error_for({}, path)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARAC_INVITE_TTL_HOURS", "0"),
        ("MARAC_INVITE_TTL_HOURS", "lots"),
        ("MARAC_INVITE_TTL_HOURS", "721"),
        ("MARAC_SENSITIVE_MESSAGE_TTL_MINUTES", "0"),
        ("MARAC_LOG_LEVEL", "CHATTY"),
        ("MARAC_TELEGRAM_BASE_URL", "ftp://example.org"),
    ],
)
def test_other_bad_values_name_their_setting(name: str, value: str) -> None:
    message = error_for({name: value})
    assert message.startswith(name)


@pytest.mark.parametrize(
    ("given", "base_url"),
    [
        # python-telegram-bot's convention, as the README documents it: the token follows.
        ("https://api.telegram.org/bot", "https://api.telegram.org/bot"),
        ("https://api.telegram.org/bot/", "https://api.telegram.org/bot"),
        # A self-hosted server's address alone is accepted too.
        ("http://127.0.0.1:8081", "http://127.0.0.1:8081/bot"),
        ("http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"),
    ],
)
def test_base_url_follows_python_telegram_bots_convention(given: str, base_url: str) -> None:
    settings = load_settings({"MARAC_TELEGRAM_BASE_URL": given})
    assert settings.telegram_base_url == base_url
    assert bot_api_file_url(base_url) == base_url.removesuffix("/bot") + "/file/bot"


def test_empty_base_url_means_telegram() -> None:
    assert load_settings({"MARAC_TELEGRAM_BASE_URL": ""}).telegram_base_url is None


def test_token_without_a_token_names_the_setting() -> None:
    settings = load_settings({})
    with pytest.raises(SettingsError) as caught:
        settings.token()
    assert "MARAC_TELEGRAM_TOKEN" in str(caught.value)


def test_token_is_not_shown_in_repr_or_str() -> None:
    settings = load_settings({"MARAC_TELEGRAM_TOKEN": GOOD_TOKEN})
    secret_part = GOOD_TOKEN.split(":")[1]
    for rendered in (repr(settings), str(settings), repr(settings.model_dump())):
        assert GOOD_TOKEN not in rendered
        assert secret_part not in rendered
    assert settings.token() == GOOD_TOKEN


def test_settings_are_frozen_and_reject_unknown_fields() -> None:
    settings = load_settings({})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's ValidationError on frozen models
        settings.timezone = "UTC"  # type: ignore[misc]
    with pytest.raises(Exception):  # noqa: B017
        Settings(unknown_field=1)  # type: ignore[call-arg]


# --- where the key-encryption key lives ---------------------------------------------------


def test_the_key_file_is_the_default_key_source() -> None:
    settings = load_settings({})
    assert settings.kek_source == "file"
    assert settings.vault_url is None
    assert (settings.vault_mount, settings.vault_transit_key) == ("transit", "marac-bot")


def test_vault_settings_from_the_environment_and_toml(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "MARAC_KEK_SOURCE": "Vault",
            "MARAC_VAULT_URL": "https://vault.example.org:8200/",
            "MARAC_VAULT_MOUNT": "/kms/transit/",
            "MARAC_VAULT_TRANSIT_KEY": "marac-north",
            "MARAC_VAULT_TOKEN_FILE": "/run/secrets/vault-token",
            "MARAC_VAULT_TIMEOUT_SECONDS": "5",
        }
    )
    assert settings.kek_source == "vault"
    assert settings.vault_url == "https://vault.example.org:8200"
    assert settings.vault_mount == "kms/transit"
    assert settings.vault_transit_key == "marac-north"
    assert settings.vault_token_file == Path("/run/secrets/vault-token")
    assert settings.vault_timeout_seconds == 5
    toml = write_toml(
        tmp_path, '[marac]\nkek_source = "vault"\nvault_url = "http://127.0.0.1:8200"\n'
    )
    assert load_settings({}, toml).vault_url == "http://127.0.0.1:8200"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"MARAC_KEK_SOURCE": "hsm"}, "MARAC_KEK_SOURCE must be file or vault."),
        ({"MARAC_KEK_SOURCE": "vault"}, "MARAC_VAULT_URL must be set when MARAC_KEK_SOURCE"),
        ({"MARAC_VAULT_URL": "vault:8200"}, "MARAC_VAULT_URL must start with http://"),
        ({"MARAC_VAULT_TRANSIT_KEY": "my key"}, "MARAC_VAULT_TRANSIT_KEY must be a transit key"),
        ({"MARAC_VAULT_MOUNT": "a b"}, "MARAC_VAULT_MOUNT must be a Vault mount path"),
        (
            {"MARAC_VAULT_MOUNT": "m" * 30, "MARAC_VAULT_TRANSIT_KEY": "k" * 20},
            "MARAC_VAULT_TRANSIT_KEY and MARAC_VAULT_MOUNT together must be at most",
        ),
        ({"MARAC_VAULT_TIMEOUT_SECONDS": "0"}, "MARAC_VAULT_TIMEOUT_SECONDS"),
    ],
)
def test_bad_vault_settings_name_the_setting(environ: dict[str, str], expected: str) -> None:
    assert expected in error_for(environ)


def test_no_vault_token_is_ever_a_setting() -> None:
    """The token is read by the key source from VAULT_TOKEN or a token file, never kept
    in Settings, so no settings dump or repr can show it."""
    assert not any(
        "token" in name and name != "telegram_token" and not name.endswith("_file")
        for name in Settings.model_fields
    )
    settings = load_settings(
        {
            "MARAC_KEK_SOURCE": "vault",
            "MARAC_VAULT_URL": "https://v:8200",
            "VAULT_TOKEN": "hvs.secret",
        }
    )
    assert "hvs.secret" not in repr(settings) and "hvs.secret" not in str(settings.model_dump())


@pytest.mark.parametrize(
    "weak",
    ["x", "a" * 31, "a-long-enough-secret-but-has spaces", "ünïcode-ünïcode-ünïcode-ünïcode-x"],
    ids=["one-character", "31-characters", "space", "outside-the-alphabet"],
)
def test_a_weak_webhook_secret_stops_the_start_and_says_how_to_make_one(weak: str) -> None:
    message = error_for({"MARAC_WEBHOOK_SECRET": weak})
    assert message.startswith("MARAC_WEBHOOK_SECRET must be at least 32 characters")
    assert "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'" in message
    assert weak not in message


def test_a_made_webhook_secret_is_accepted() -> None:
    import secrets

    made = secrets.token_urlsafe(32)
    settings = load_settings({"MARAC_WEBHOOK_SECRET": made})
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == made
    assert load_settings({"MARAC_WEBHOOK_SECRET": "A_-9" * 8}).webhook_secret is not None
    assert load_settings({"MARAC_WEBHOOK_SECRET": ""}).webhook_secret is None
