"""The operator's commands: init, migrate, run's start-up checks, audit verify."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.clock import ManualClock
from bot.runtime import open_runtime
from config import load_settings
from storage.audit import append_event
from storage.keyfile import create_key_file
from storage.models import AuditEvent, OutboxMessage
from tests.support.audit_tamper import cut_tail, edit_details, keyed, relink, sha256

TOKEN = "123456:TEST-standin-token-abcdefghijklmnopqrstuv"
LONDON = ZoneInfo("Europe/London")
NOON = time(12)
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


# ---------------------------------------------------------------------------
# audit verify: the keyed chain, and checkpoints kept outside the database
# ---------------------------------------------------------------------------


async def _coordinator_keeps_a_checkpoint(code: str, events: int = 4) -> str:
    """The first coordinator enrols with init's invite, the bot records a few events, and the
    day's checkpoint (taken at noon) is queued to her; returns the message she keeps."""
    today = datetime.now(LONDON).date()
    runtime = open_runtime(
        load_settings(), clock=ManualClock(datetime.combine(today, NOON, LONDON))
    )
    try:
        redeemed = await runtime.services.enrolment.redeem(501, "Priya Shah", code)
        assert redeemed.actor is not None
        async with runtime.sessions.begin() as session:
            for n in range(events):
                await append_event(
                    session, at=runtime.clock.now(), action="test.event", details={"n": n}
                )
        assert await runtime.services.audit_checkpoints.publish_due() is not None
        async with runtime.sessions() as session:
            text = await session.scalar(
                select(OutboxMessage.text).where(
                    OutboxMessage.kind == "audit_checkpoint", OutboxMessage.chat_id == 501
                )
            )
        assert text is not None
        return text
    finally:
        await runtime.close()


async def _as_someone_with_the_database(
    attack: Callable[..., Awaitable[None]], *args: Any, **kwargs: Any
) -> None:
    runtime = open_runtime(load_settings())
    try:
        await attack(runtime.sessions, *args, **kwargs)
    finally:
        await runtime.close()


async def _audit_key() -> bytes:
    """What someone who also copied the key file can derive."""
    runtime = open_runtime(load_settings())
    try:
        return runtime.vault.key_ring.audit_key().chain
    finally:
        await runtime.close()


def _init(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["init", "--area", "Northamptonshire"]) == 0
    link = re.search(r"start=([A-Za-z0-9_-]+)", capsys.readouterr().out)
    assert link
    return link.group(1)


def _verify(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["audit", "verify", *argv])
    return code, capsys.readouterr().out.strip()


def test_verify_names_an_event_rewritten_by_someone_without_the_key(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _init(capsys)
    now = datetime.now(UTC)
    assert asyncio.run(_write_audit_events(now, now, now)) > 3
    # Change event 3 and recompute the SHA-256 of it and of every event after it.
    asyncio.run(_as_someone_with_the_database(edit_details, 3, {"n": "changed"}))
    asyncio.run(_as_someone_with_the_database(relink, sha256, start=3))
    code, out = _verify(capsys)
    assert code == 1
    assert out == (
        "Audit log BROKEN at event 3: event content was changed and its hash recomputed "
        "without the audit key. 2 events before it are intact."
    )


def test_verify_against_a_kept_checkpoint_reports_a_cut_tail_in_one_line(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = asyncio.run(_coordinator_keeps_a_checkpoint(_init(capsys)))
    found = re.search(r"marac_audit_1_(\d+)_", kept)
    assert found
    seq = int(found.group(1))
    # Delete the last events (the checkpoint's own record too) and move the head back.
    asyncio.run(_as_someone_with_the_database(cut_tail, keep_through=seq - 2))
    code, out = _verify(capsys)
    assert code == 0 and out.startswith("Audit log intact")  # the chain alone cannot show it

    code, out = _verify(capsys, "--checkpoint", kept)  # the whole message, pasted
    assert code == 1 and "\n" not in out
    assert out.startswith("Audit log TRUNCATED: the checkpoint of ")
    assert out.endswith(
        f"up to event {seq}, but the trail now ends at event {seq - 2}: "
        f"events {seq - 1} to {seq} were removed."
    )


def test_a_forged_or_missing_checkpoint_is_refused(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = asyncio.run(_coordinator_keeps_a_checkpoint(_init(capsys)))
    found = re.search(r"marac_audit_1_(\d+)_(\d+)_\S+", kept)
    assert found
    checkpoint, seq, count = found.group(0), int(found.group(1)), int(found.group(2))
    code, out = _verify(capsys, "--checkpoint", checkpoint)
    assert code == 0 and "It matches the checkpoint of" in out and f"(event {seq})" in out

    # Claiming fewer events, to cover a cut tail, with the signature left as it was.
    shorter = checkpoint.replace(f"_{seq}_{count}_", f"_{seq - 1}_{count - 1}_", 1)
    code, out = _verify(capsys, "--checkpoint", shorter)
    assert code == 1
    assert out.startswith(f"Checkpoint REFUSED: the checkpoint for event {seq - 1} ")
    assert "is not signed with this deployment's audit key" in out

    assert main(["audit", "verify", "--checkpoint", "3f9a...c2"]) == 2
    assert "No audit checkpoint in --checkpoint" in capsys.readouterr().err


def test_a_rewrite_with_the_key_file_is_caught_by_a_kept_checkpoint(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = asyncio.run(_coordinator_keeps_a_checkpoint(_init(capsys)))
    found = re.search(r"marac_audit_1_(\d+)_", kept)
    assert found
    seq = int(found.group(1))
    asyncio.run(_write_audit_events(datetime.now(UTC)))
    # Database and key file: change an event before the checkpoint and re-key every link.
    asyncio.run(_as_someone_with_the_database(edit_details, seq - 1, {"n": "changed"}))
    key = asyncio.run(_audit_key())
    asyncio.run(_as_someone_with_the_database(relink, keyed(key), start=seq - 1))
    code, out = _verify(capsys)
    assert code == 0  # with the key, the chain can be made to verify ...
    code, out = _verify(capsys, "--checkpoint", kept)  # ... but not to match what was kept
    assert code == 1 and "\n" not in out
    assert out.startswith(f"Audit log REWRITTEN: event {seq} is not the event the checkpoint of ")


def test_migrate_keys_a_trail_written_before_the_audit_key(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _init(capsys)
    total = asyncio.run(_write_audit_events(datetime.now(UTC), datetime.now(UTC)))
    # The trail as the version before the audit key wrote it: plain SHA-256 links.
    asyncio.run(_as_someone_with_the_database(relink, sha256))
    code, out = _verify(capsys)
    assert code == 1 and "run 'marac-bot migrate'" in out

    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert f"Audit trail keyed from event {total + 1} (audit.keyed)" in out
    code, out = _verify(capsys)
    assert code == 0 and out.startswith(f"Audit log intact: {total + 1} events")
    assert main(["migrate"]) == 0
    assert "keyed" not in capsys.readouterr().out  # once

    # The plain events before it are sealed: changing one and re-linking is found.
    asyncio.run(_as_someone_with_the_database(edit_details, 2, {"n": "changed"}))
    asyncio.run(_as_someone_with_the_database(relink, sha256, start=2))
    code, out = _verify(capsys)
    assert code == 1 and out.startswith("Audit log BROKEN at event ")


def test_the_checkpoint_file_is_written_and_verify_reads_every_checkpoint_in_it(
    operator_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = operator_env.parent / "checkpoints.txt"
    monkeypatch.setenv("MARAC_AUDIT_CHECKPOINT_FILE", str(path))
    asyncio.run(_coordinator_keeps_a_checkpoint(_init(capsys)))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out = _verify(capsys, "--checkpoint-file", str(path))
    assert code == 0 and "It matches the checkpoint of" in out

    path.write_text(path.read_text().replace("marac_audit_1_", "marac_audit_1_1", 1))
    code, out = _verify(capsys, "--checkpoint-file", str(path))
    assert code == 1 and out.startswith("Checkpoint REFUSED")
