"""The ``marac-bot`` command: init, migrate, run, demo, policy, audit verify, keys, retention, sar,
backup, restore, doctor.

Operator mistakes (a missing token, an unsafe key file, an unreachable
database) end with one line naming what to fix, never a traceback, and never
a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.backups import register as register_backups
from bot.cli.doctor import register as register_doctor
from bot.cli.errors import CliError
from bot.cli.governance import register as register_governance
from bot.cli.keys import register as register_keys
from bot.clock import SystemClock
from bot.invites import deep_link
from bot.logging_setup import configure_logging
from bot.runtime import open_runtime
from bot.vocabulary import Role
from config import Settings, SettingsError, load_settings
from storage.audit import ChainReport, head_seq, key_the_chain, verify_chain
from storage.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    Comparison,
    compare,
    find_checkpoints,
    refuse_forged,
)
from storage.audit_retention import AUDIT_RETENTION_YEARS, audit_cutoff
from storage.crypto import KeySource
from storage.db import is_database_unavailable
from storage.keyfile import KeyFileError, create_key_file
from storage.migrate import current_revision, head_revision, upgrade

EXIT_USAGE = 2
EXIT_FAILED = 1


def _settings() -> Settings:
    return load_settings()


async def _bot_username(settings: Settings) -> str | None:
    if settings.bot_username:
        return settings.bot_username.lstrip("@")
    if settings.telegram_token is None:
        return None
    try:
        token = settings.token()
    except SettingsError as problem:
        print(f"Note: {problem} Until it is fixed, the invite below is a code, not a link.")
        return None
    from telegram import Bot

    kwargs: dict[str, Any] = {}
    if settings.telegram_base_url:
        kwargs["base_url"] = settings.telegram_base_url
    try:
        async with Bot(token, **kwargs) as bot:
            return bot.username
    except Exception:  # the link is a convenience; the code alone still works
        return None


async def cmd_init(args: argparse.Namespace) -> int:
    settings = _settings()
    if not os.environ.get("MARAC_KEYS") and create_key_file(settings.key_file):
        print(f"Created key file {settings.key_file} (permissions 0600). Back it up separately.")
    runtime = open_runtime(settings)
    try:
        await _upgrade(runtime.engine, lambda: runtime.vault.key_ring)
        async with runtime.sessions.begin() as session:
            _report_keyed(await key_the_chain(session, runtime.clock.now()))
        area = await runtime.services.areas.ensure_area(args.area, args.timezone)
        print(
            f"Area '{area.name}' {'created' if area.created else 'already exists'} "
            f"(case reference prefix {area.code})."
        )
        if area.active_coordinators:
            print(
                f"It has {area.active_coordinators} active coordinator(s): "
                "they invite everyone else with /invite in the bot."
            )
            return 0
        await runtime.services.invites.revoke_operator_invites(area.id, Role.COORDINATOR)
        issued = await runtime.services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
        username = await _bot_username(settings)
        expires = issued.expires_at.strftime("%d %b %Y %H:%M UTC")
        print(f"One-time invite for the first coordinator (works once, until {expires}):")
        if username:
            print(f"  {deep_link(username, issued.code)}")
        else:
            print(f"  In a private chat with the bot, send: /start {issued.code}")
            print("  (set MARAC_BOT_USERNAME or MARAC_TELEGRAM_TOKEN to get a t.me link instead)")
        print("Running init again replaces this link with a new one.")
        return 0
    finally:
        await runtime.close()


async def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    from storage.db import create_engine
    from storage.kek_sources import close_key_source, key_source_from_settings

    engine = create_engine(settings.database_url)
    opened: list[KeySource] = []

    def keys() -> KeySource:
        """Only a migration with sealed data to work on asks for them."""
        opened.append(key_source_from_settings(settings))
        return opened[-1]

    try:
        before = await current_revision(engine)
        await _upgrade(engine, keys)
        after = await current_revision(engine)
        print(f"Database schema: {before or 'empty'} -> {after}")
        await _key_audit_trail(settings, engine, quiet=False)
    finally:
        for source in opened:
            close_key_source(source)
        await engine.dispose()
    return 0


async def _upgrade(engine: AsyncEngine, keys: Callable[[], KeySource]) -> None:
    """The schema upgrade, with the keys for migrations that seal or open values; a key
    problem is one line (such a migration asks for the keys before it changes anything)."""
    from storage.crypto import CryptoError
    from storage.migration_keys import MigrationNeedsKeys

    try:
        await upgrade(engine, keys=keys)
    except MigrationNeedsKeys as problem:
        raise CliError(str(problem)) from problem
    except CryptoError as problem:  # incl. Vault's KeySourceError: one safe line
        raise CliError(f"The upgrade stopped: {problem}") from problem


def _report_keyed(seq: int | None) -> None:
    if seq is not None:
        print(
            f"Audit trail keyed from event {seq} (audit.keyed): the events before it keep "
            "their plain hashes, and this keyed event seals them."
        )


async def _key_audit_trail(settings: Settings, engine: AsyncEngine, *, quiet: bool) -> None:
    """After an upgrade: seal events written before the audit key existed (storage.audit).

    An empty trail needs no key, so ``migrate`` still works before ``init`` made the key
    file; a trail with events and no readable key is keyed later, when the bot starts.
    """
    from storage.crypto import KeySourceError
    from storage.db import create_session_factory
    from storage.kek_sources import close_key_source, key_source_from_settings

    async with create_session_factory(engine, audit_key=None)() as session:
        if not await head_seq(session):
            return
    try:
        source = key_source_from_settings(settings)
    except (KeyFileError, KeySourceError) as problem:
        if not quiet:
            print(f"Note: the audit trail will be keyed when the bot starts ({problem})")
        return
    try:
        sessions = create_session_factory(engine, audit_key=source.audit_key())
        async with sessions.begin() as session:
            keyed = await key_the_chain(session, SystemClock().now())
    finally:
        close_key_source(source)
    if not quiet:
        _report_keyed(keyed)


async def _check_schema(settings: Settings) -> None:
    from storage.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        revision = await current_revision(engine)
    finally:
        await engine.dispose()
    if revision != head_revision():
        raise CliError(
            "The database schema is not up to date: run 'marac-bot migrate' (or 'marac-bot init')."
        )


async def _check_keys(settings: Settings) -> None:
    """A missing key file, a refused Vault token, a missing transit key, or keys that do not
    open this database's data keys (another deployment's key file, an old copy) stop the
    start, with one line."""
    from storage.crypto import KeySourceError
    from storage.db import create_engine, create_session_factory
    from storage.kek_sources import (
        check_key_source,
        close_key_source,
        key_source_from_settings,
    )
    from storage.key_check import KeysDoNotOpen, check_keys_open_data
    from storage.keyfile import KeyFileError

    try:
        source = key_source_from_settings(settings)
        engine = create_engine(settings.database_url)
        try:
            await check_key_source(source)
            await check_keys_open_data(create_session_factory(engine, audit_key=None), source)
        finally:
            close_key_source(source)
            await engine.dispose()
    except KeysDoNotOpen as wrong:
        keys, fix = _keys_origin(settings)
        raise CliError(
            f"{keys} does not open this database's data keys (they are wrapped by "
            f"key-encryption key {wrong.kek_id}): {fix}."
        ) from wrong
    except (KeyFileError, KeySourceError) as problem:
        raise CliError(str(problem)) from problem


def _keys_origin(settings: Settings) -> tuple[str, str]:
    """What holds the keys, and what to do when they are not this database's."""
    if settings.kek_source == "vault":
        return (
            f"Vault transit key {settings.vault_mount}/{settings.vault_transit_key}",
            "check MARAC_VAULT_URL, MARAC_VAULT_MOUNT and MARAC_VAULT_TRANSIT_KEY, and that "
            "MARAC_KEY_FILE still holds the key-encryption keys from before the move to Vault",
        )
    if os.environ.get("MARAC_KEYS"):
        return "The key material in MARAC_KEYS", "give this database's keys in MARAC_KEYS"
    return (
        f"The key file {settings.key_file}",
        "point MARAC_KEY_FILE at this database's key file, or restore it from its backup",
    )


async def _key_audit_trail_at_start(settings: Settings) -> None:
    """``run`` keys a trail an upgrade left unkeyed, before it records anything itself."""
    from storage.db import create_engine

    engine = create_engine(settings.database_url)
    try:
        await _key_audit_trail(settings, engine, quiet=True)
    finally:
        await engine.dispose()


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    settings.token()
    if args.webhook:
        _webhook_options(settings)
    asyncio.run(_check_schema(settings))
    asyncio.run(_check_keys(settings))
    asyncio.run(_key_audit_trail_at_start(settings))
    if args.webhook:
        return _run_webhook(settings)
    from bot.adapter.leader import serve

    where = settings.telegram_base_url or "Telegram"
    logging.getLogger("marac").info("starting long polling against %s", where)
    from bot.workspace.serving import with_workspace

    if settings.webapp_url:
        logging.getLogger("marac").info(
            "case workspace for %s on %s:%s while this process is active",
            settings.webapp_url,
            settings.workspace_listen,
            settings.workspace_port,
        )
    return _serve_until_stopped(
        serve(
            settings,
            poll_seconds=settings.leader_poll_seconds,
            check_seconds=settings.leader_check_seconds,
            wrap_start=with_workspace,
        )
    )


def _serve_until_stopped(serving: Coroutine[Any, Any, None]) -> int:
    """Run the bot; a token Telegram refuses ends it with one line, not a traceback."""
    from telegram.error import InvalidToken

    try:
        asyncio.run(serving)
    except InvalidToken as refused:
        raise CliError(
            "Telegram did not accept MARAC_TELEGRAM_TOKEN: check it with @BotFather "
            "(/mybots, API Token)."
        ) from refused
    return 0


def _webhook_options(settings: Settings) -> str:
    """Checked before anything else, so a missing secret is named as such."""
    from bot.adapter.webhook import check_webhook_options

    if not settings.webhook_public_url or settings.webhook_secret is None:
        raise CliError(
            "Webhook mode needs MARAC_WEBHOOK_PUBLIC_URL and MARAC_WEBHOOK_SECRET to be set."
        )
    secret = settings.webhook_secret.get_secret_value()
    try:
        check_webhook_options(
            path=settings.webhook_path, public_url=settings.webhook_public_url, secret_token=secret
        )
    except ValueError as problem:
        raise CliError(str(problem)) from problem
    return secret


def _run_webhook(settings: Settings) -> int:
    """Webhook mode: Telegram posts updates to us through the reverse proxy.

    Under the same leader lease as long polling, so two processes can be run as active and
    standby: only the active one opens its port (and registers the webhook on takeover).
    """
    from bot.adapter.leader import serve
    from bot.adapter.webhook import WebhookOptions

    options = WebhookOptions(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        path=settings.webhook_path,
        public_url=settings.webhook_public_url or "",
        secret_token=_webhook_options(settings),
        # What long polling receives too: a reaction or a poll is no business of ours.
        allowed_updates=("message", "callback_query", "my_chat_member"),
    )
    logging.getLogger("marac").info(
        "webhook mode: port %s opens while this process holds the leader lease",
        settings.webhook_port,
    )
    from bot.workspace.app import mount_workspace

    return _serve_until_stopped(
        serve(
            settings,
            poll_seconds=settings.leader_poll_seconds,
            check_seconds=settings.leader_check_seconds,
            webhook=options,
            mount=mount_workspace,
        )
    )


def _checkpoints_given(args: argparse.Namespace) -> list[Checkpoint]:
    """Every checkpoint in --checkpoint texts and --checkpoint-file files; a text or file
    holding none is a mistake worth one line, not a silent pass."""
    sources: list[tuple[str, str]] = [("--checkpoint", text) for text in args.checkpoint or []]
    for path in args.checkpoint_file or []:
        try:
            sources.append((str(path), Path(path).read_text(encoding="utf-8", errors="replace")))
        except OSError as problem:
            raise CliError(f"Cannot read the checkpoint file {path}: {problem.strerror}.") from None
    found: list[Checkpoint] = []
    for origin, text in sources:
        checkpoints = find_checkpoints(text)
        if not checkpoints:
            raise CliError(
                f"No audit checkpoint in {origin}: copy the line that starts with "
                "marac_audit_1_ from the checkpoint message or the log."
            )
        found.extend(checkpoints)
    return found


def _when(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.at:%d %b %Y %H:%M} UTC"


def _checkpoint_verdict(report: ChainReport, comparisons: list[Comparison]) -> tuple[bool, str]:
    """One line on the trail against the checkpoints: the first that fails, or what matched."""
    matched = [c.checkpoint for c in comparisons if c.outcome == "matches"]
    for comparison in comparisons:
        checkpoint = comparison.checkpoint
        if comparison.outcome == "truncated":
            return False, (
                f"Audit log TRUNCATED: the checkpoint of {_when(checkpoint)} recorded "
                f"{checkpoint.count:,} events up to event {checkpoint.seq}, but the trail now "
                f"ends at event {report.last_seq}: events {report.last_seq + 1} to "
                f"{checkpoint.seq} were removed."
            )
        if comparison.outcome == "pruned too early":
            return False, (
                f"Audit log TRUNCATED: events up to event {report.pruned_through} are recorded "
                f"as pruned, but the checkpoint of {_when(checkpoint)} (event {checkpoint.seq}) "
                "is within the 7-year retention period: they were deleted, not pruned."
            )
        if comparison.outcome == "rewritten":
            before = [c for c in matched if c.seq < checkpoint.seq]
            since = (
                f" after event {before[-1].seq}, which the checkpoint of {_when(before[-1])} "
                "still matches"
                if before
                else ""
            )
            return False, (
                f"Audit log REWRITTEN: event {checkpoint.seq} is not the event the checkpoint "
                f"of {_when(checkpoint)} recorded: events up to it were changed{since}, and "
                "their links recomputed with the audit key."
            )
    older = sum(c.outcome == "before pruning" for c in comparisons)
    line = ""
    if matched:
        newest = max(matched, key=lambda c: (c.seq, c.at))
        line = (
            f" It matches the checkpoint of {_when(newest)} (event {newest.seq})."
            if len(matched) == 1
            else f" It matches all {len(matched)} checkpoints, the newest of {_when(newest)} "
            f"(event {newest.seq})."
        )
    if older:
        line += (
            f" {older} older checkpoint(s) fall in the pruned part of the trail and were not "
            "compared."
        )
    return True, line


async def cmd_audit_verify(args: argparse.Namespace) -> int:
    settings = _settings()
    checkpoints = _checkpoints_given(args)
    runtime = open_runtime(settings)
    try:
        try:
            refuse_forged(checkpoints, runtime.vault.key_ring.audit_key())
        except CheckpointError as problem:
            print(f"Checkpoint REFUSED: {problem}.")
            return EXIT_FAILED
        async with runtime.sessions() as session:
            report = await verify_chain(session, watch={c.seq for c in checkpoints})
    finally:
        await runtime.close()
    if not report.intact:
        print(
            f"Audit log BROKEN at event {report.first_broken_seq}: {report.reason}. "
            f"{report.events_checked} events before it are intact."
        )
        return EXIT_FAILED
    today = SystemClock().now().astimezone(ZoneInfo(settings.timezone)).date()
    prunable_before = audit_cutoff(today, AUDIT_RETENTION_YEARS, settings.timezone)
    comparisons = compare(report, checkpoints, prunable_before)
    consistent, against = _checkpoint_verdict(report, comparisons)
    if not consistent:
        print(against)
        return EXIT_FAILED
    pruned = (
        f" Events 1-{report.pruned_through} were pruned under the 7-year retention rule;"
        " the chain is verified from the recorded checkpoint."
        if report.pruned_through
        else ""
    )
    print(
        f"Audit log intact: {report.events_checked} events, every link verified under the "
        f"audit key.{pruned}{against}"
    )
    return 0


async def cmd_policy(args: argparse.Namespace) -> int:
    settings = _settings()
    changes: dict[str, int | str | bool] = {
        name: value
        for name, value in (
            ("dash_threshold", args.dash_threshold),
            ("escalation_threshold", args.escalation_threshold),
            ("repeat_window_days", args.repeat_window_days),
            ("draft_ttl_days", args.draft_days),
            ("out_of_hours_route", args.out_of_hours),
            ("agenda_cutoff_days", args.cutoff_days),
            ("research_days", args.research_days),
            ("reminder_days_before", args.reminder_days),
            ("reminder_hours_before", args.reminder_hours),
            ("meeting_capacity", args.capacity),
            ("adult_female_population", args.adult_women),
            ("case_retention_years", args.retention_years),
            ("research_open_days_after", args.research_open_days),
            (
                "calendar_location",
                None if args.calendar_location is None else args.calendar_location == "on",
            ),
        )
        if value is not None
    }
    runtime = open_runtime(settings)
    try:
        try:
            policy = await runtime.services.policies.update(args.area, changes)
        except ValueError as problem:
            raise CliError(str(problem)) from problem
    finally:
        await runtime.close()
    print(
        f"{policy.area_name}: visible high risk at {policy.dash_threshold}+ DASH yes answers; "
        f"potential escalation at {policy.escalation_threshold}+ police incidents in 12 months; "
        f"repeats within {policy.repeat_window_days} days; drafts erased after "
        f"{policy.draft_ttl_days} days; urgent alerts name the out-of-hours route: "
        f"{policy.out_of_hours_route}.\n"
        f"Agendas close {policy.agenda_cutoff_days} working days before a meeting; research is "
        f"due {policy.research_days} working days before; reminders go "
        f"{policy.reminder_days_before} days and {policy.reminder_hours_before} hours before; "
        f"{policy.meeting_capacity} cases fit a meeting.\n"
        f"Adult women in the area: {policy.adult_female_population or 'not set'}; case data is "
        f"erased {policy.case_retention_years} years after a case was last heard.\n"
        f"Invited agencies see the identifiers of the cases on an agenda from its publication "
        f"until {policy.research_open_days_after} working days after the meeting.\n"
        f"Calendar invitations {'give' if policy.calendar_location else 'leave out'} the "
        f"meeting's place."
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.cli.demo import run_demo

    configure_logging("INFO" if args.verbose else "WARNING")
    return asyncio.run(
        run_demo(start=args.date, verbose=args.verbose, serve=args.serve, port=args.port)
    )


def _calendar_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: write it as year-month-day, e.g. {date.today():%Y-%m-%d}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marac-bot",
        description="Coordinate MARAC referrals, meetings and actions on Telegram.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create the database, key file and an area")
    init.add_argument("--area", required=True, help='the MARAC area, e.g. "Northamptonshire"')
    init.add_argument("--timezone", default=None, help="IANA time zone (default Europe/London)")
    init.set_defaults(handler=cmd_init)
    policy = sub.add_parser("policy", help="show or set an area's referral thresholds")
    policy.add_argument("--area", required=True)
    policy.add_argument("--dash-threshold", type=int, help="DASH yes answers for visible high risk")
    policy.add_argument("--escalation-threshold", type=int, help="police incidents in 12 months")
    policy.add_argument("--repeat-window-days", type=int, help="a repeat within this many days")
    policy.add_argument("--draft-days", type=int, help="erase unfinished referrals after")
    policy.add_argument("--out-of-hours", help="named in urgent alerts, e.g. the EDT number")
    policy.add_argument("--cutoff-days", type=int, help="agenda closes N working days before")
    policy.add_argument("--research-days", type=int, help="research due N working days before")
    policy.add_argument("--reminder-days", type=int, help="meeting reminder N days before")
    policy.add_argument("--reminder-hours", type=int, help="meeting reminder N hours before")
    policy.add_argument("--capacity", type=int, help="cases per meeting before a warning")
    policy.add_argument("--adult-women", type=int, help="adult female population, for statistics")
    policy.add_argument("--retention-years", type=int, help="erase case data N years after")
    policy.add_argument(
        "--research-open-days",
        type=int,
        help="invited agencies see a listed case's identifiers until N working days after",
    )
    policy.add_argument(
        "--calendar-location",
        choices=("on", "off"),
        help="give the meeting's place in calendar invitations (off: only in the agenda)",
    )
    policy.set_defaults(handler=cmd_policy)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(handler=cmd_migrate)
    run = sub.add_parser("run", help="run the bot (active/standby on PostgreSQL)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="receive updates by webhook behind a proxy, not by long polling",
    )
    run.set_defaults(handler=cmd_run)
    demo = sub.add_parser("demo", help="play the MARAC cycle against a local stand-in")
    demo.add_argument("--verbose", action="store_true", help="also show the bot's log")
    demo.add_argument(
        "--date",
        type=_calendar_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the demo's clock starts (default: today)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep the demo's case workspace open on 127.0.0.1, with a link per person",
    )
    demo.add_argument("--port", type=int, default=8090, help="the workspace's port for --serve")
    demo.set_defaults(handler=cmd_demo)
    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the keyed chain, and against checkpoints kept outside the database"
    )
    verify.add_argument(
        "--checkpoint",
        action="append",
        metavar="TEXT",
        help="a checkpoint (marac_audit_1_...) from a coordinator's message or the log; "
        "may be given more than once",
    )
    verify.add_argument(
        "--checkpoint-file",
        action="append",
        type=Path,
        metavar="PATH",
        help="a file holding checkpoints (MARAC_AUDIT_CHECKPOINT_FILE, a saved log, "
        "pasted messages); every one in it is checked",
    )
    verify.set_defaults(handler=cmd_audit_verify)
    register_keys(sub)
    register_governance(sub)
    register_backups(sub)
    register_doctor(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]] = args.handler
    if os.environ.get("MARAC_LOG_FORMAT") == "json":
        from bot.json_logging import configure_json_logging

        configure_json_logging(os.environ.get("MARAC_LOG_LEVEL", "INFO"))
    else:
        configure_logging(os.environ.get("MARAC_LOG_LEVEL", "INFO"))
    try:
        result = handler(args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        assert isinstance(result, int)
        return result
    except (SettingsError, KeyFileError, CliError) as exc:
        print(f"marac-bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if is_database_unavailable(exc):
            print(
                "marac-bot: the database could not be reached; check MARAC_DATABASE_URL.",
                file=sys.stderr,
            )
            return EXIT_FAILED
        raise
    except KeyboardInterrupt:
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
