"""The operator's commands: init, migrate, run's start-up checks, audit verify."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.runtime import open_runtime
from config import load_settings
from storage.audit import append_event
from storage.keyfile import create_key_file
from storage.models import AuditEvent

TOKEN = "123456:TEST-standin-token-abcdefghijklmnopqrstuv"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("MARAC_") and name not in {"MARAC_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(name)
    key_file = tmp_path / "keys.json"
    monkeypatch.setenv("MARAC_DATABASE_URL", database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(key_file))
    monkeypatch.setenv("MARAC_BOT_USERNAME", "northants_marac_bot")
    return key_file


def test_init_creates_key_area_and_single_use_link_and_is_safe_to_rerun(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--area", "Northamptonshire"]) == 0
    first = capsys.readouterr().out
    assert stat.S_IMODE(operator_env.stat().st_mode) == 0o600
    key_before = operator_env.read_bytes()
    link = re.search(r"https://t\.me/northants_marac_bot\?start=([A-Za-z0-9_-]+)", first)
    assert link, first
    assert "created" in first

    assert main(["init", "--area", "northamptonshire"]) == 0
    second = capsys.readouterr().out
    assert "already exists" in second
    assert operator_env.read_bytes() == key_before  # never overwritten
    new_link = re.search(r"start=([A-Za-z0-9_-]+)", second)
    assert new_link and new_link.group(1) != link.group(1)

    assert main(["audit", "verify"]) == 0
    assert "Audit log intact" in capsys.readouterr().out


def test_init_needs_no_token_and_a_malformed_one_only_costs_the_link(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MARAC_BOT_USERNAME")
    assert main(["init", "--area", "Northamptonshire"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"send: /start [A-Za-z0-9_-]{20,}", out), out

    monkeypatch.setenv("MARAC_TELEGRAM_TOKEN", "1234:not-a-real-token")
    assert main(["init", "--area", "Northamptonshire"]) == 0
    out = capsys.readouterr().out
    assert "MARAC_TELEGRAM_TOKEN does not look like a bot token" in out
    assert "a colon, then 30 or more letters" in out
    assert "not-a-real-token" not in out
    assert re.search(r"send: /start [A-Za-z0-9_-]{20,}", out), out


def test_run_without_token_stops_with_one_line(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "MARAC_TELEGRAM_TOKEN" in err


async def test_run_keeps_trying_an_unreachable_bot_api_with_one_line_each_time(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``marac-bot run`` as a real process, pointed at a Bot API address nobody answers."""
    assert await asyncio.to_thread(main, ["init", "--area", "Northamptonshire"]) == 0
    capsys.readouterr()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MARAC_TELEGRAM_TOKEN": TOKEN,
        "MARAC_TELEGRAM_BASE_URL": f"http://127.0.0.1:{port}/bot",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(['run']))",
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while sum("cannot reach the Telegram Bot API" in line for line in lines) < 2:
                raw = await process.stdout.readline()
                assert raw, "the process ended:\n" + "".join(lines)
                lines.append(raw.decode())
        assert process.returncode is None  # still running, still trying
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        closed.close()
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = "".join(lines) + (await process.stdout.read()).decode()
    assert "Traceback" not in output, output
    retries = [line for line in lines if "cannot reach" in line]
    assert "(NetworkError); trying again in 2 s" in retries[0]
    assert "trying again in 4 s" in retries[1]


async def _run_process(
    env: dict[str, str], until: str | None, within: float = 60
) -> tuple[int | None, str]:
    """``marac-bot run`` as a real process: (exit code, output) once it ends, or, when
    ``until`` is given, once a line containing it appeared (it is then stopped: None)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(['run']))",
        env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(within):
            while raw := await process.stdout.readline():
                lines.append(raw.decode())
                if until is not None and until in lines[-1]:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
                    return None, "".join(lines)
            return await process.wait(), "".join(lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_run_refuses_keys_that_do_not_open_the_data_keys_in_one_line(
    operator_env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Another deployment's key file (or an old copy) loads fine but opens nothing."""
    assert await asyncio.to_thread(main, ["init", "--area", "Northamptonshire"]) == 0
    capsys.readouterr()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: the Bot API never answers
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MARAC_TELEGRAM_TOKEN": TOKEN,
        "MARAC_TELEGRAM_BASE_URL": f"http://127.0.0.1:{closed.getsockname()[1]}/bot",
    }
    try:
        # The right key file: the check passes (nobody enrolled yet: it keeps a canary data
        # key for the next start to check) and the bot starts.
        code, output = await _run_process(env, until="starting long polling")
        assert code is None and "Traceback" not in output, output

        other = tmp_path / "someone-elses-keys.json"
        assert create_key_file(other)
        code, output = await _run_process({**env, "MARAC_KEY_FILE": str(other)}, until=None)
    finally:
        closed.close()
    assert code == 2, output
    assert output.count("\n") == 1 and "Traceback" not in output, output
    assert output.startswith(
        f"marac-bot: The key file {other} does not open this database's data keys"
    ), output
    assert "point MARAC_KEY_FILE at this database's key file" in output


def test_malformed_token_is_named_but_never_printed(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARAC_TELEGRAM_TOKEN", "secret-looking-but-wrong")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "MARAC_TELEGRAM_TOKEN" in err and "secret-looking" not in err


def test_run_refuses_a_database_that_was_never_migrated(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARAC_TELEGRAM_TOKEN", TOKEN)
    assert main(["run"]) == 2
    assert "marac-bot migrate" in capsys.readouterr().err


def test_unsafe_key_file_is_refused(operator_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--area", "Northamptonshire"]) == 0
    operator_env.chmod(0o644)
    assert main(["audit", "verify"]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_migrate_reports_the_revision(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from storage.migrate import head_revision

    head = head_revision()
    assert main(["migrate"]) == 0
    assert f"empty -> {head}" in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert f"{head} -> {head}" in capsys.readouterr().out


def test_unreachable_database_is_one_clear_line(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARAC_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["migrate"]) == 1
    assert "could not be reached" in capsys.readouterr().err


def test_policy_shows_and_changes_thresholds(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--area", "Northamptonshire"]) == 0
    capsys.readouterr()
    assert main(["policy", "--area", "Northamptonshire"]) == 0
    assert "visible high risk at 14+" in capsys.readouterr().out
    assert (
        main(
            [
                "policy",
                "--area",
                "Northamptonshire",
                "--escalation-threshold",
                "4",
                "--out-of-hours",
                "the Emergency Duty Team on 0300 126 1000",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "potential escalation at 4+" in out and "Emergency Duty Team" in out
    assert main(["policy", "--area", "Northamptonshire", "--dash-threshold", "30"]) == 2
    assert "between 1 and 24" in capsys.readouterr().err
    assert main(["policy", "--area", "Nowhere"]) == 2


def test_webhook_mode_needs_its_settings_and_https(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["migrate"]) == 0
    monkeypatch.setenv("MARAC_TELEGRAM_TOKEN", TOKEN)
    assert main(["run", "--webhook"]) == 2
    assert "MARAC_WEBHOOK_PUBLIC_URL" in capsys.readouterr().err
    monkeypatch.setenv("MARAC_WEBHOOK_PUBLIC_URL", "http://bot.example.invalid")
    monkeypatch.setenv("MARAC_WEBHOOK_SECRET", "a-long-enough-secret-token-value")
    assert main(["run", "--webhook"]) == 2
    err = capsys.readouterr().err
    assert "https://" in err and "a-long-enough-secret" not in err


async def _write_audit_events(*times: datetime) -> int:
    """Audit events at these times, in this order; returns how many events there are."""
    runtime = open_runtime(load_settings())
    try:
        async with runtime.sessions.begin() as session:
            for at in times:
                await append_event(session, at=at, action="test.event")
            return int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    finally:
        await runtime.close()


def test_retention_prunes_old_audit_events_and_verify_still_passes(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A schema and a key but no area yet: `init` would write recent events at the start.
    assert main(["migrate"]) == 0
    assert create_key_file(operator_env)
    now = datetime.now(UTC)
    old = now - timedelta(days=8 * 366)
    # Three old events, a recent one, then an old one that must wait behind it.
    total = asyncio.run(_write_audit_events(old, old, old, now, old))
    capsys.readouterr()

    assert main(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "3 event(s) (audit: 7 years after the event) would be pruned, events 1 to 3" in out
    assert "1 older audit event(s) come after a younger one" in out
    assert asyncio.run(_write_audit_events()) == total  # nothing changed

    assert main(["retention"]) == 0
    out = capsys.readouterr().out
    assert "3 event(s) pruned (audit: 7 years after the event), up to event 3" in out
    assert asyncio.run(_write_audit_events()) == total - 3 + 1  # and one audit.pruned record
    assert main(["audit", "verify"]) == 0
    assert "Audit log intact" in capsys.readouterr().out

    assert main(["retention"]) == 0
    assert "event(s) pruned" not in capsys.readouterr().out  # nothing more is due
