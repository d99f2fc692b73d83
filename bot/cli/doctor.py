"""``marac-bot doctor``: is this deployment ready to run? One line per check.

Each line starts ``ok`` or ``FIX`` and says, in the second case, what to do. Nothing is changed
(no schema upgrade, no key canary, no webhook registered) and nothing secret is printed: not
the token, the webhook secret, the database password or a key. The exit status is 1 when any
check needs fixing, so a deployment script or a monitoring probe can run it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from sqlalchemy import select, text
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock, SystemClock
from config import Settings, SettingsError, load_settings

EXIT_FAILED: Final = 1
# getMe and the database get this long each: a doctor that hangs is no help.
TIMEOUT_SECONDS: Final = 5.0
# The database server's clock and this machine's may differ by this much (a round trip is in it).
CLOCK_TOLERANCE: Final = timedelta(seconds=30)
TELEGRAM: Final = "https://api.telegram.org/bot"


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    says: str
    skipped: bool = False

    def line(self) -> str:
        mark = "--  " if self.skipped else ("ok  " if self.ok else "FIX ")
        return f"{mark}{self.check}: {self.says}"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="check configuration, database, schema, key file, Bot API, URLs and clock",
    )
    doctor.set_defaults(handler=cmd_doctor)


async def cmd_doctor(args: argparse.Namespace) -> int:
    findings = await diagnose()
    for finding in findings:
        print(finding.line())
    return 0 if all(f.ok for f in findings) else EXIT_FAILED


async def diagnose(
    environ: Mapping[str, str] | None = None, *, clock: Clock | None = None
) -> list[Finding]:
    env = dict(os.environ if environ is None else environ)
    try:
        settings = load_settings(env)
    except SettingsError as problem:
        return [
            Finding("configuration", False, str(problem)),
            Finding("other checks", True, "not run until the configuration loads", skipped=True),
        ]
    findings = [Finding("configuration", True, "settings load")]
    now = clock or SystemClock()
    database, schema_ok = await _database(settings, findings, now)
    try:
        await _keys(settings, env, findings, database if schema_ok else None)
    finally:
        if database is not None:
            await database.dispose()
    findings.append(await _bot_api(settings))
    findings.append(_webhook(settings))
    findings.append(_workspace(settings))
    return findings


def _where(database_url: str) -> str:
    """The database's address without user or password."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


async def _database(
    settings: Settings, findings: list[Finding], clock: Clock
) -> tuple[AsyncEngine | None, bool]:
    """Reachable, schema at head, clock and time zones: the engine when the database answers,
    and whether its schema is the newest (only then are its data keys read)."""
    from storage.db import create_engine, is_database_unavailable
    from storage.migrate import current_revision, head_revision

    where = _where(settings.database_url)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not _exists(url.database or ""):
        findings.append(
            Finding(
                "database",
                False,
                f"{where} does not exist: run 'marac-bot init', or set MARAC_DATABASE_URL to "
                "the database in use",
            )
        )
        _skip_database_checks(findings)
        return None, False
    engine = create_engine(settings.database_url)
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS * 2), engine.connect() as connection:
            server_now = (
                await connection.scalar(text("SELECT now()"))
                if engine.dialect.name == "postgresql"
                else None
            )
            await connection.scalar(text("SELECT 1"))
    except Exception as problem:
        await engine.dispose()
        if is_database_unavailable(problem) or isinstance(problem, TimeoutError | OSError):
            says = (
                f"{where} cannot be reached: check MARAC_DATABASE_URL, that the server runs, "
                "and the password"
            )
        else:  # a file that is not a database, a refused permission: the kind, never the text
            says = f"{where} answered with an error ({type(problem).__name__}): check it"
        findings.append(Finding("database", False, says))
        _skip_database_checks(findings)
        return None, False
    findings.append(Finding("database", True, f"{where} answers"))
    revision, head = await current_revision(engine), head_revision()
    if revision == head:
        findings.append(Finding("schema", True, f"at the newest migration ({head})"))
    else:
        findings.append(
            Finding(
                "schema",
                False,
                f"at {revision or 'nothing (empty database)'}, this version needs {head}: "
                "run 'marac-bot migrate'",
            )
        )
    findings.append(_clock(server_now, clock))
    findings.append(await _time_zones(settings, engine, schema_ok=revision == head))
    return engine, revision == head


def _exists(path: str) -> bool:
    return Path(path).exists()


def _skip_database_checks(findings: list[Finding]) -> None:
    for check in ("schema", "clock", "time zones"):
        findings.append(Finding(check, True, "not checked without the database", skipped=True))


def _clock(server_now: datetime | None, clock: Clock) -> Finding:
    if server_now is None:
        return Finding("clock", True, "SQLite uses this machine's clock")
    ours = clock.now()
    drift = abs(ours - server_now)
    if drift > CLOCK_TOLERANCE:
        return Finding(
            "clock",
            False,
            f"this machine's clock and the database server's differ by "
            f"{int(drift.total_seconds())} s: synchronise both with NTP (timedatectl)",
        )
    return Finding("clock", True, "this machine and the database server agree")


async def _time_zones(settings: Settings, engine: AsyncEngine, *, schema_ok: bool) -> Finding:
    from storage.models import Area

    if not schema_ok:
        return Finding(
            "time zones", True, f"MARAC_TIMEZONE {settings.timezone}; areas not read", skipped=True
        )
    async with engine.connect() as connection:
        areas = (await connection.execute(select(Area.name, Area.timezone))).all()
    for name, zone in areas:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            return Finding(
                "time zones",
                False,
                f"area {name} has time zone {zone!r}, which is not a known IANA time zone: set "
                "its areas.timezone to one such as Europe/London",
            )
    return Finding(
        "time zones",
        True,
        f"MARAC_TIMEZONE {settings.timezone}; every area's zone is known ({len(areas)} area(s))",
    )


async def _keys(
    settings: Settings,
    env: Mapping[str, str],
    findings: list[Finding],
    database: AsyncEngine | None,
) -> None:
    from storage.crypto import KeySourceError
    from storage.db import create_session_factory
    from storage.kek_sources import check_key_source, close_key_source, key_source_from_settings
    from storage.key_check import KeysDoNotOpen, check_keys_open_data
    from storage.keyfile import KeyFileError

    path = settings.key_file
    inline = bool(env.get("MARAC_KEYS"))
    if not inline:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            findings.append(
                Finding(
                    "key file",
                    False,
                    f"{path} does not exist: set MARAC_KEY_FILE to it, restore it from its "
                    "backup, or run 'marac-bot init' for a new deployment",
                )
            )
            return
        except OSError as problem:
            findings.append(
                Finding("key file", False, f"{path} cannot be read: {problem.strerror}")
            )
            return
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            findings.append(
                Finding(
                    "key file",
                    False,
                    f"{path} has permissions {mode:04o}, readable by others: "
                    f"run 'chmod 600 {path}'",
                )
            )
            return
    origin = "MARAC_KEYS" if inline else str(path)
    try:
        source = key_source_from_settings(settings, env)
    except (KeyFileError, KeySourceError) as problem:
        findings.append(Finding("key file", False, str(problem).rstrip(".")))
        return
    try:
        await check_key_source(source)
        if database is None:  # unreachable, or a schema behind may lack what is read
            private = "" if inline else ", readable by its owner only"
            findings.append(Finding("key file", True, f"{origin} opens{private}"))
            return
        sessions = create_session_factory(database, audit_key=None)
        opened = await check_keys_open_data(sessions, source, canary=False)
    except KeysDoNotOpen as wrong:
        findings.append(
            Finding(
                "key file",
                False,
                f"{origin} does not open this database's data keys (wrapped by key-encryption "
                f"key {wrong.kek_id}): point MARAC_KEY_FILE at this database's key file",
            )
        )
        return
    except KeySourceError as problem:
        findings.append(Finding("key file", False, str(problem).rstrip(".")))
        return
    finally:
        close_key_source(source)
    opens = "opens this database's data keys" if opened else "opens (no data key stored yet)"
    findings.append(Finding("key file", True, f"{origin} {opens}"))


async def _bot_api(settings: Settings) -> Finding:
    base = settings.telegram_base_url or TELEGRAM
    shown = base.removesuffix("/bot")
    try:
        token = settings.token()
    except SettingsError as problem:
        return Finding("Bot API", False, str(problem).rstrip("."))
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout, trust_env=True) as session,
            session.get(f"{base}{token}/getMe") as response,
        ):
            status = response.status
            body = await response.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError):
        # The exception's text may hold the address, and the address holds the token.
        return Finding(
            "Bot API",
            False,
            f"{shown} cannot be reached within {TIMEOUT_SECONDS:.0f} s: check "
            "MARAC_TELEGRAM_BASE_URL, the firewall and any proxy (HTTPS_PROXY)",
        )
    if status in (401, 404):
        return Finding(
            "Bot API",
            False,
            f"{shown} refused MARAC_TELEGRAM_TOKEN: check it with @BotFather (/mybots, API Token)",
        )
    result = body.get("result") if isinstance(body, dict) else None
    if status != 200 or not isinstance(result, dict):
        return Finding("Bot API", False, f"{shown} answered getMe with HTTP {status}, not a bot")
    username = str(result.get("username", ""))
    wanted = (settings.bot_username or "").lstrip("@")
    if wanted and wanted.lower() != username.lower():
        return Finding(
            "Bot API",
            False,
            f"the token belongs to @{username}, but MARAC_BOT_USERNAME is @{wanted}: "
            "correct one of them",
        )
    return Finding("Bot API", True, f"{shown} answers getMe as @{username}")


def _well_formed_https(address: str) -> bool:
    parts = urlsplit(address)
    return (
        parts.scheme == "https" and bool(parts.hostname) and not parts.query and not parts.fragment
    )


def _webhook(settings: Settings) -> Finding:
    from bot.adapter.webhook import check_webhook_options

    address = settings.webhook_public_url
    if not address:
        if settings.webhook_secret is not None:
            return Finding(
                "webhook",
                False,
                "MARAC_WEBHOOK_SECRET is set but MARAC_WEBHOOK_PUBLIC_URL is not: set both "
                "for 'run --webhook', or neither for long polling",
            )
        return Finding("webhook", True, "not set: 'marac-bot run' uses long polling")
    if not _well_formed_https(address):
        return Finding(
            "webhook",
            False,
            "MARAC_WEBHOOK_PUBLIC_URL must be an https:// address with a host name and no "
            "query (Telegram posts only to HTTPS)",
        )
    if settings.webhook_secret is None:
        return Finding(
            "webhook",
            False,
            "MARAC_WEBHOOK_SECRET is not set: make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    try:
        check_webhook_options(
            path=settings.webhook_path,
            public_url=address,
            secret_token=settings.webhook_secret.get_secret_value(),
        )
    except ValueError as problem:
        return Finding("webhook", False, str(problem))
    return Finding(
        "webhook",
        True,
        f"{address.rstrip('/')}{settings.webhook_path} with a secret of 32+ characters",
    )


def _workspace(settings: Settings) -> Finding:
    address = settings.webapp_url
    if not address:
        return Finding(
            "workspace", True, "not set: case content comes in protected, self-deleting messages"
        )
    if not _well_formed_https(address):
        return Finding(
            "workspace",
            False,
            "MARAC_WEBAPP_URL is plain http on this machine: phones open the workspace only "
            "at an https:// address",
        )
    return Finding("workspace", True, f"{address}")
