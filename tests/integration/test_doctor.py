"""``marac-bot doctor``: one line per check, and each misconfiguration named in one line."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text, update

from bot.cli import main
from bot.cli.doctor import Finding, diagnose
from bot.clock import ManualClock, SystemClock
from bot.sandbox import BotApiStandIn
from storage.db import create_engine
from storage.models import Area

TOKEN = "123456:TEST-standin-token-abcdefghijklmnopqrstuv"
SECRET = "s" * 43
Env = dict[str, str]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound and never listened on: connections to it are refused."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    yield closed.getsockname()[1]
    closed.close()


@pytest.fixture
async def stand_in() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn(token=TOKEN, bot_username="northants_marac_bot") as server:
        yield server


@pytest.fixture
async def healthy(
    database_url: str, tmp_path: Path, stand_in: BotApiStandIn, monkeypatch: pytest.MonkeyPatch
) -> Env:
    """A deployment that passes every check: initialised, webhook and workspace on https."""
    for name in list(os.environ):
        if name.startswith("MARAC_") and name not in {"MARAC_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(name)
    env = {
        "MARAC_DATABASE_URL": database_url,
        "MARAC_KEY_FILE": str(tmp_path / "keys.json"),
        "MARAC_TELEGRAM_TOKEN": TOKEN,
        "MARAC_TELEGRAM_BASE_URL": stand_in.base_url,
        "MARAC_BOT_USERNAME": "northants_marac_bot",
        "MARAC_WEBHOOK_PUBLIC_URL": "https://marac-bot.example.gov.uk",
        "MARAC_WEBHOOK_PATH": "/telegram/3f9a1c",
        "MARAC_WEBHOOK_SECRET": SECRET,
        "MARAC_WEBAPP_URL": "https://marac-bot.example.gov.uk/workspace",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(main, ["init", "--area", "Northamptonshire"]) == 0
    await _first_start(env)
    return env


async def _first_start(env: Env) -> None:
    """What 'marac-bot run' does at its first start: a data key (the canary) is stored, so a
    key file can be told to be this database's or not."""
    from config import load_settings
    from storage.db import create_session_factory
    from storage.kek_sources import key_source_from_settings
    from storage.key_check import check_keys_open_data

    settings = load_settings(env)
    engine = create_engine(settings.database_url)
    try:
        sessions = create_session_factory(engine, audit_key=None)
        await check_keys_open_data(sessions, key_source_from_settings(settings, env))
    finally:
        await engine.dispose()


def to_fix(findings: list[Finding]) -> list[str]:
    return [f.line() for f in findings if not f.ok]


async def test_a_healthy_deployment_passes_every_check_one_line_each(
    healthy: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["doctor"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [line.split(":", 1)[0] for line in lines]
    assert checks == [
        "ok  configuration",
        "ok  database",
        "ok  schema",
        "ok  clock",
        "ok  time zones",
        "ok  key file",
        "ok  Bot API",
        "ok  webhook",
        "ok  workspace",
    ], lines
    out = "\n".join(lines)
    assert "answers getMe as @northants_marac_bot" in out
    assert "opens this database's data keys" in out
    assert TOKEN not in out and SECRET not in out


async def _stamp_behind(env: Env) -> None:
    engine = create_engine(env["MARAC_DATABASE_URL"])
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    finally:
        await engine.dispose()


async def _area_zone(env: Env, zone: str) -> None:
    engine = create_engine(env["MARAC_DATABASE_URL"])
    try:
        async with engine.begin() as connection:
            await connection.execute(update(Area).values(timezone=zone))
    finally:
        await engine.dispose()


def _unreachable_database(env: Env, tmp_path: Path, port: int) -> str:
    if env["MARAC_DATABASE_URL"].startswith("sqlite"):
        env["MARAC_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/elsewhere/marac.db"
        return "does not exist: run 'marac-bot init'"
    env["MARAC_DATABASE_URL"] = f"postgresql+asyncpg://marac:pw@127.0.0.1:{port}/marac"
    return f"PostgreSQL 127.0.0.1:{port}/marac cannot be reached: check MARAC_DATABASE_URL"


Breaks = Callable[[Env, Path, int], str]


def _set(name: str, value: str, expected: str) -> Breaks:
    def breaks(env: Env, _tmp: Path, _port: int) -> str:
        env[name] = value
        return expected

    return breaks


def _missing_key_file(env: Env, tmp_path: Path, _port: int) -> str:
    Path(env["MARAC_KEY_FILE"]).rename(tmp_path / "keys-moved.json")
    return "key file: " + env["MARAC_KEY_FILE"] + " does not exist: set MARAC_KEY_FILE to it"


def _loose_key_file(env: Env, _tmp: Path, _port: int) -> str:
    key_file = env["MARAC_KEY_FILE"]
    os.chmod(key_file, 0o644)
    return f"key file: {key_file} has permissions 0644, readable by others: run 'chmod 600"


def _other_key_file(env: Env, tmp_path: Path, _port: int) -> str:
    from storage.keyfile import create_key_file

    create_key_file(tmp_path / "another.json")
    env["MARAC_KEY_FILE"] = str(tmp_path / "another.json")
    return "does not open this database's data keys (wrapped by key-encryption key kek-"


def _api_on(port_of: Callable[[int], str], expected: str) -> Breaks:
    def breaks(env: Env, _tmp: Path, port: int) -> str:
        env["MARAC_TELEGRAM_BASE_URL"] = port_of(port)
        return expected

    return breaks


MISCONFIGURATIONS: dict[str, Breaks] = {
    "unreachable database": _unreachable_database,
    "missing key file": _missing_key_file,
    "key file readable by others": _loose_key_file,
    "another deployment's key file": _other_key_file,
    "non-https webhook": _set(
        "MARAC_WEBHOOK_PUBLIC_URL",
        "http://marac-bot.example.gov.uk",
        "webhook: MARAC_WEBHOOK_PUBLIC_URL must be an https:// address",
    ),
    "malformed webhook address": _set(
        "MARAC_WEBHOOK_PUBLIC_URL",
        "https://?x=1",
        "webhook: MARAC_WEBHOOK_PUBLIC_URL must be an https:// address with a host name",
    ),
    "short webhook secret": _set(
        "MARAC_WEBHOOK_SECRET",
        "s" * 31,
        "configuration: MARAC_WEBHOOK_SECRET must be at least 32 characters",
    ),
    "webhook secret missing": _set(
        "MARAC_WEBHOOK_SECRET", "", "webhook: MARAC_WEBHOOK_SECRET is not set: make one with"
    ),
    "plain-http workspace": _set(
        "MARAC_WEBAPP_URL",
        "http://127.0.0.1:8090/workspace",
        "workspace: MARAC_WEBAPP_URL is plain http on this machine",
    ),
    "bad time zone": _set(
        "MARAC_TIMEZONE",
        "Mars/Olympus_Mons",
        "configuration: MARAC_TIMEZONE is not a known IANA time zone",
    ),
    "unreachable Bot API": _api_on(
        lambda port: f"http://127.0.0.1:{port}/bot",
        "Bot API: http://127.0.0.1:{port} cannot be reached within 5 s",
    ),
    "token refused": _set(
        "MARAC_TELEGRAM_TOKEN",
        "123456:TEST-another-token-abcdefghijklmnopqrstu",
        "refused MARAC_TELEGRAM_TOKEN: check it with @BotFather",
    ),
    "no token": _set(
        "MARAC_TELEGRAM_TOKEN", "", "Bot API: MARAC_TELEGRAM_TOKEN is not set: get a token"
    ),
    "another bot's username": _set(
        "MARAC_BOT_USERNAME",
        "someone_elses_bot",
        "the token belongs to @northants_marac_bot, but MARAC_BOT_USERNAME is @someone_elses_bot",
    ),
}


@pytest.mark.parametrize("name", list(MISCONFIGURATIONS))
async def test_each_misconfiguration_is_one_line_saying_what_to_fix(
    healthy: Env, tmp_path: Path, closed_port: int, name: str
) -> None:
    env = dict(healthy)
    expected = MISCONFIGURATIONS[name](env, tmp_path, closed_port).format(port=closed_port)
    env = {key: value for key, value in env.items() if value != ""}
    fix = to_fix(await diagnose(env))
    assert len(fix) == 1, fix
    assert fix[0].startswith("FIX ") and expected in fix[0], fix
    assert "\n" not in fix[0]
    assert TOKEN not in fix[0] and SECRET not in fix[0] and ":pw@" not in fix[0]


async def test_pending_migrations_and_an_area_with_an_unknown_time_zone(healthy: Env) -> None:
    await _area_zone(healthy, "Mars/Olympus_Mons")
    assert to_fix(await diagnose(healthy)) == [
        "FIX time zones: area Northamptonshire has time zone 'Mars/Olympus_Mons', which is not "
        "a known IANA time zone: set its areas.timezone to one such as Europe/London"
    ]
    await _stamp_behind(healthy)
    [fix] = to_fix(await diagnose(healthy))
    assert fix.startswith("FIX schema: at 0001, this version needs ")
    assert fix.endswith(": run 'marac-bot migrate'")


async def test_a_clock_far_from_the_database_servers_is_named(healthy: Env) -> None:
    ahead = ManualClock(SystemClock().now() + timedelta(minutes=10))
    fix = to_fix(await diagnose(healthy, clock=ahead))
    if healthy["MARAC_DATABASE_URL"].startswith("sqlite"):
        assert fix == []  # one machine, one clock
        return
    assert len(fix) == 1 and fix[0].startswith("FIX clock: this machine's clock and the database")
    assert "synchronise both with NTP" in fix[0]


async def test_doctor_exits_non_zero_when_anything_needs_fixing(
    healthy: Env,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARAC_TELEGRAM_BASE_URL", f"http://127.0.0.1:{closed_port}/bot")
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["doctor"]) == 1
    out = capsys.readouterr().out
    assert out.count("\nFIX ") == 1 and "FIX Bot API" in out


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_file_that_is_not_a_database_is_named_not_a_traceback(
    healthy: Env, tmp_path: Path
) -> None:
    env = dict(healthy)
    env["MARAC_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path}/notes.db"
    await asyncio.to_thread((tmp_path / "notes.db").write_bytes, b"not a database, a note" * 100)
    [fix] = to_fix(await diagnose(env))
    assert fix.startswith(f"FIX database: SQLite file {tmp_path}/notes.db answered with an error (")
