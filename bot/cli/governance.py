"""The governance commands: ``marac-bot retention`` and ``marac-bot sar export``.

Both print references, rules and dates only, never a name. ``retention`` erases
what the retention rules say is due and prunes audit events past their 7 years
(``--dry-run`` lists it and changes nothing);
``sar export`` writes one case, decrypted, to a new file only its owner can read,
for the data protection officer, and records the export in the audit trail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import date
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from bot.dates import format_uk_date
from bot.errors import NotFound
from bot.runtime import open_runtime
from bot.services.retention import ErasureItem, RetentionService
from bot.services.subject_access import SubjectAccessService
from config import load_settings
from storage.audit_retention import PrunePlan, PruneReport
from storage.crypto import CryptoError
from storage.rotation import ShredReport, rotate_after_erasure

EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``retention`` and ``sar export`` to the ``marac-bot`` parser."""
    retention = subparsers.add_parser(
        "retention",
        help="erase case data whose retention period has ended and prune old audit events",
    )
    retention.add_argument(
        "--dry-run", action="store_true", help="list what would be erased; change nothing"
    )
    retention.add_argument(
        "--today",
        type=_iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="judge retention as on this day (a later day only with --dry-run)",
    )
    retention.set_defaults(handler=cmd_retention)

    sar = subparsers.add_parser("sar", help="subject access requests")
    sar_sub = sar.add_subparsers(dest="sar_command", required=True)
    export = sar_sub.add_parser(
        "export", help="write everything held about one case to a file for the DPO"
    )
    export.add_argument("reference", help="the case reference, e.g. NOR-2026-0042")
    export.add_argument(
        "--out", type=Path, default=None, help="the file to write (default sar-<ref>-<date>.json)"
    )
    export.set_defaults(handler=cmd_sar_export)


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2032-12-31") from None


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"marac-bot: {message}", file=sys.stderr)
    return code


def _describe(item: ErasureItem) -> str:
    when = "last changed" if item.kind == "draft" else "last heard"
    return f"  {item.reference:<16} {item.rule:<34} {when} {format_uk_date(item.last_heard)}"


def _describe_plan(plan: PrunePlan) -> list[str]:
    lines = []
    if plan.due:
        lines.append(
            f"Audit trail: {plan.due} event(s) ({plan.rule}) would be pruned, events "
            f"{plan.from_seq} to {plan.to_seq}; the chain stays verifiable from there."
        )
    if plan.held_back:
        lines.append(_held_back(plan.held_back))
    return lines


def _held_back(count: int) -> str:
    return (
        f"{count} older audit event(s) come after a younger one and are kept until it is due "
        "(the chain can only be pruned from its start)."
    )


def _describe_prune(report: PruneReport, held_back: int) -> list[str]:
    lines = []
    if report.pruned:
        lines.append(
            f"Audit trail: {report.pruned} event(s) pruned ({report.rule}), up to event "
            f"{report.pruned_seq}; `marac-bot audit verify` checks the rest from there."
        )
    if report.broken is not None:
        lines.append(
            f"Audit trail NOT pruned from event {report.broken.first_broken_seq}: "
            f"{report.broken.reason}. Nothing from there on was deleted; "
            "run `marac-bot audit verify`."
        )
    elif held_back:
        lines.append(_held_back(held_back))
    return lines


async def cmd_retention(args: argparse.Namespace) -> int:
    settings = load_settings()
    runtime = open_runtime(settings)
    try:
        service = RetentionService(runtime.deps)
        real_today = runtime.clock.now().astimezone(ZoneInfo(settings.timezone)).date()
        today: date = args.today or real_today
        if today > real_today and not args.dry_run:
            return _fail(
                "--today may only be later than today with --dry-run: erasing ahead of "
                "time needs a coordinator's request and a second coordinator's confirmation."
            )
        due = await service.due(today)
        items = due if args.dry_run else await service.erase_due(today, actor_label="cli")
        pruned: PruneReport | None = None
        shred: ShredReport | None = None
        if not args.dry_run:
            # A copy of the database taken before must not open what was just erased.
            shred = await rotate_after_erasure(runtime.sessions, runtime.vault)
            pruned = await service.prune_audit_trail(today, actor_label="cli")
        # After pruning this is what stays behind a younger event (or all of it, dry run).
        plan = await service.audit_pruning_plan(today)
    finally:
        await runtime.close()

    heading = "would be erased (dry run: nothing changed)" if args.dry_run else "erased"
    if items:
        print(f"Retention on {format_uk_date(today)}: {len(items)} record(s) {heading}:")
        for item in items:
            print(_describe(item))
    else:
        print(f"Retention on {format_uk_date(today)}: nothing is due for erasure.")
    for line in _describe_plan(plan) if pruned is None else _describe_prune(pruned, plan.held_back):
        print(line)
    if shred is not None and shred.status != "not_needed":
        print(f"Keys: {shred.message}")
    missed = len(due) - len(items)
    if not args.dry_run and missed > 0:
        print(
            f"{missed} record(s) were not erased (listed again meanwhile, or an error: "
            "see the log). Run the command again to retry."
        )
        return EXIT_FAILED
    if pruned is not None and pruned.broken is not None:
        return EXIT_FAILED
    if shred is not None and shred.status == "incomplete":
        return EXIT_FAILED
    return 0


def cmd_sar_export(args: argparse.Namespace) -> int:
    reference = str(args.reference).strip().upper()
    path: Path = args.out or Path(f"sar-{reference}-{date.today():%Y%m%d}.json")
    try:
        # Created first, exclusively and private, so nothing is exported to a file
        # someone else could read or that already held something.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _fail(f"{path} already exists; choose another --out (nothing was exported).")
    except OSError as problem:
        return _fail(f"cannot create {path}: {problem.strerror} (nothing was exported).")
    try:
        data = asyncio.run(_export(reference))
    except BaseException as problem:
        os.close(descriptor)
        path.unlink(missing_ok=True)
        if isinstance(problem, _Refused):
            return _fail(f"{problem} (nothing was exported).")
        raise
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
    print(f"Wrote the subject access export of {reference} to {path.resolve()} (mode 0600).")
    print("It holds the case decrypted: give it only to the data protection officer.")
    return 0


class _Refused(Exception):
    """The export cannot be made; the message is safe to print (no case content)."""


async def _export(reference: str) -> bytes:
    settings = load_settings()
    runtime = open_runtime(settings)
    try:
        return await SubjectAccessService(runtime.deps).export(reference, actor_label="cli")
    except NotFound:
        raise _Refused(f"no case has the reference {reference}") from None
    except CryptoError as problem:
        raise _Refused(f"a sealed value could not be opened: {problem}") from None
    finally:
        await runtime.close()
