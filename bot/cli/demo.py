"""``marac-bot demo``: the MARAC cycle played by scripted people against the real bot.

Everything is real except Telegram: the Application, handlers, services, a
SQLite database and key file in a temporary folder, and HTTP to the local Bot
API stand-in. Each capability adds its scene; the transcript shows what every
person typed and pressed, and what the bot answered.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot import texts
from bot.actions.minutes import docx_outline
from bot.adapter.local import running_bot
from bot.cli.demo_dvds import clares_law
from bot.cli.demo_transfer import transfer
from bot.cli.demo_welsh import welsh_language
from bot.clock import ManualClock
from bot.dates import example_date, format_local
from bot.meetings.agenda_rules import days_before_reminder
from bot.meetings.workdays import AreaCalendar
from bot.referrals.status import REFERENCE_PATTERN
from bot.runtime import Runtime, open_runtime
from bot.sandbox import BotApiStandIn, Driver, RecordedMessage, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral, say
from bot.vocabulary import Role
from config import Settings
from storage.audit import verify_chain
from storage.keyfile import create_key_file
from storage.migrate import upgrade

LINK_CODE = re.compile(r"start=([A-Za-z0-9_-]+)")
REFERENCE = re.compile(rf"\b({REFERENCE_PATTERN})\b")
LONDON = "Europe/London"
# The demo area keeps England's bank holidays and no closure days of its own.
CALENDAR = AreaCalendar(LONDON)
FIRST_MEETING_WORKING_DAYS = 10  # two working weeks after the demo's first day


@dataclass
class Cast:
    """The people of the demo area."""

    coordinator: SimulatedUser
    stranger: SimulatedUser
    police: SimulatedUser
    idva: SimulatedUser
    drive: SimulatedUser


class Demo:
    calendar = CALENDAR  # the demo area's working days, for scenes in their own modules

    def __init__(self, runtime: Runtime, driver: Driver, clock: ManualClock, out: TextIO) -> None:
        self.runtime = runtime
        self.driver = driver
        self.clock = clock
        self.out = out
        self.cast = Cast(
            coordinator=driver.user(7001, "Priya", last_name="Shah", role="coordinator"),
            stranger=driver.user(7666, "Unknown", last_name="Person", role="not enrolled"),
            police=driver.user(7002, "Sam", last_name="Okafor", role="police"),
            idva=driver.user(7003, "Jo", last_name="Evans", role="IDVA"),
            drive=driver.user(7004, "Pat", last_name="Quinn", role="perpetrator service"),
        )
        self.scenes = 0
        self._marker = 0
        self.reference = ""
        self.reference_pattern = REFERENCE
        self.today = CALENDAR.local_date(clock.now())
        # A working day, far enough ahead that a case accepted today makes its agenda.
        self.first_meeting = CALENDAR.add_working_days(self.today, FIRST_MEETING_WORKING_DAYS)

    async def scene(self, title: str, play: Callable[[], Awaitable[None]]) -> None:
        self.scenes += 1
        self.out.write(f"\n=== Scene {self.scenes}: {title} ===\n")
        self._marker = self.driver.mark()
        await play()
        self.flush()

    async def wait_for_text(self, user: SimulatedUser, fragment: str) -> None:
        def arrived() -> bool:
            return any(fragment in (m.text or "") for m in user.bot_messages())

        await self.driver.wait_for(arrived, description=f"{fragment!r} for {user.display_name}")

    async def button_starting(
        self, user: SimulatedUser, prefix: str
    ) -> tuple[RecordedMessage, str]:
        """The newest message showing a button whose text starts with ``prefix``."""

        def found() -> tuple[RecordedMessage, str] | None:
            for message in reversed(user.bot_messages()):
                for row in message.buttons:
                    for button in row:
                        if button.text.startswith(prefix):
                            return message, button.text
            return None

        return await self.driver.wait_for(found, description=f"a button {prefix!r}")

    def flush(self) -> None:
        """Print what happened since the last flush, so notes interleave in order."""
        text = self.driver.transcript_since(self._marker)
        if text:
            self.out.write(text + "\n")
        self._marker = self.driver.mark()

    async def first_coordinator(self, code: str) -> None:
        priya = self.cast.coordinator
        await priya.send_and_wait(f"/start {code}", count=2)
        await priya.send_and_wait("/help")

    async def stranger_writes(self) -> None:
        await self.cast.stranger.send_and_wait("Hello, I need to report something")

    async def add_agency(self, kind: str, name: str) -> None:
        priya = self.cast.coordinator
        await priya.send_and_wait("/agencies")
        await priya.press_and_wait("Add agency", expect_edit=True)
        await priya.press_and_wait(kind, expect_edit=True)
        await priya.send_and_wait(name, count=2)

    async def agencies(self) -> None:
        await self.add_agency("Police", "Northamptonshire Police")
        await self.add_agency("IDVA service", "Sunflower IDVA Service")
        await self.add_agency("Perpetrator service", "Drive Project")
        priya = self.cast.coordinator
        await priya.press_and_wait("Northamptonshire Police", expect_edit=True)
        await priya.press_and_wait("Agreement dates", expect_edit=True)
        # Signed eight months ago, reviewed in four: dates from the demo's own clock.
        await priya.send_and_wait(example_date(self.today, -240))
        await priya.send_and_wait(example_date(self.today, 125))

    async def invite(self, role_button: str, agency: str, invitee: SimulatedUser) -> None:
        priya = self.cast.coordinator
        await priya.send_and_wait("/invite")
        await priya.press_and_wait(role_button, expect_edit=True)
        result = await priya.press_and_wait(agency, expect_edit=True)
        match = LINK_CODE.search(result.message.text or "")
        if match is None:
            raise RuntimeError("the bot did not show an invite link")
        await invitee.send_and_wait(f"/start {match.group(1)}", count=2)
        await self.confirm_enrolment(invitee)

    async def confirm_enrolment(self, invitee: SimulatedUser) -> None:
        """An invite link can be forwarded: the coordinator confirms it is the right person
        before they receive anything about a case."""
        priya = self.cast.coordinator
        asked = f"{invitee.record.display_name} enrolled as"

        def question() -> RecordedMessage | None:
            return next(
                (
                    m
                    for m in reversed(priya.bot_messages())
                    if (m.text or "").startswith(asked) and m.buttons
                ),
                None,
            )

        found = await self.driver.wait_for(question, description=f"{asked!r} for the coordinator")
        await priya.press_and_wait(texts.BUTTON_CONFIRM_ENROLMENT, message=found, expect_edit=True)
        await self.wait_for_text(invitee, "A coordinator has confirmed your enrolment")

    async def invites(self) -> None:
        await self.invite("Agency rep", "Northamptonshire Police", self.cast.police)
        await self.invite("Agency rep", "Sunflower IDVA Service", self.cast.idva)
        await self.invite("Perpetrator-service rep", "Drive Project", self.cast.drive)

    async def schedule(self) -> None:
        """Fortnightly from a working day; later meetings on a bank holiday move a day earlier."""
        priya = self.cast.coordinator
        await priya.send_and_wait("/meetings")
        await priya.press_and_wait("New meeting", expect_edit=True)
        await priya.send_and_wait(self.first_meeting.strftime("%d/%m/%Y"))
        await priya.send_and_wait("10:00")
        chosen = await priya.press_and_wait("Every 2 weeks", expect_edit=True)
        rule = texts.OFF_DAY_RULE_BUTTONS["before"]
        if any(button.text == rule for row in chosen.message.buttons for button in row):
            await priya.press_and_wait(rule, expect_edit=True)
        await priya.send_and_wait("Video call: https://meet.example.invalid/marac", count=2)

    async def publish_and_research(self) -> None:
        priya, sam, jo = self.cast.coordinator, self.cast.police, self.cast.idva
        listing = await priya.send_and_wait("/meetings")
        opened = await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)
        await priya.press_and_wait(
            "Publish agenda", message=opened.new_messages[-1], expect_edit=True
        )
        for rep in (sam, jo):
            for expected in (
                "Research for the MARAC",
                "Will your agency attend",
                "You are invited",
            ):
                await self.wait_for_text(rep, expected)
        await sam.press_and_wait(f"Research {self.reference}", count=1)
        await sam.press_and_wait("Add information", expect_edit=True)
        await sam.send_and_wait("Two call-outs in October; he is on bail not to contact her.")
        await jo.press_and_wait(f"Research {self.reference}", count=1)
        await jo.press_and_wait("Add information", expect_edit=True)
        await jo.send_and_wait("Engaged with IDVA since June; safety plan in place; wants a move.")
        await sam.press_and_wait("Attending", expect_edit=True)
        await jo.press_and_wait("Attending", expect_edit=True)
        listing = await priya.send_and_wait("/meetings")
        await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)

    async def reminders(self) -> None:
        """Time moves on (the clock is injected): the reminders fire when they are due."""
        sam, priya = self.cast.police, self.cast.coordinator
        start = datetime.combine(self.first_meeting, clock_time(10), ZoneInfo(LONDON))
        for moment, text in (
            # Two days before, or the working day before that when it is not a working day.
            (days_before_reminder(start, 2, CALENDAR), "Reminder: the MARAC meeting is on"),
            (start - timedelta(hours=2), "starts in 2 hours"),
        ):
            self.clock.set(moment.astimezone(UTC) + timedelta(seconds=1))
            self.flush()
            self.out.write(f"[the clock moves to {format_local(moment, LONDON)}]\n")
            for person in (sam, priya, self.cast.idva, self.cast.drive):
                await self.wait_for_text(person, text)
            if text.startswith("Reminder"):
                await self.wait_for_text(priya, "Good morning")
        await self.driver.wait_for(
            lambda: sum("Good morning" in (m.text or "") for m in priya.bot_messages()) >= 2,
            description="the meeting day's digest",
        )
        self.flush()
        after = start + timedelta(hours=3, minutes=30)
        self.clock.set(after.astimezone(UTC))
        self.out.write(
            f"[the clock moves to {format_local(after, LONDON)}: the meeting has ended]\n"
        )

    async def action_plan(self) -> None:
        """The meeting agrees actions; closing it sends each agency its own, with buttons."""
        priya, sam, jo = self.cast.coordinator, self.cast.police, self.cast.idva
        # The chair runs the meeting from /plan: the running order, the confidentiality
        # statement everyone agrees to, then per case the risks identified and the actions.
        await priya.send_and_wait("/plan")
        plan, button = await self.button_starting(priya, "Confidentiality statement")
        await priya.press_and_wait(button, message=plan, count=1)
        statement, agreed = await self.button_starting(priya, texts.BUTTON_CONFIDENTIALITY_AGREED)
        await priya.press_and_wait(agreed, message=statement, expect_edit=True)
        await priya.send_and_wait("/plan")
        plan, button = await self.button_starting(priya, "Risks:")
        await priya.press_and_wait(button, message=plan, count=1)
        await priya.send(
            "Strangulation at the last incident and escalating in frequency; threats to take "
            "the children; bail ends soon."
        )
        await self.wait_for_text(priya, f"Risk summary for {self.reference} saved")
        await priya.send_and_wait("/plan")
        plan, button = await self.button_starting(priya, "Actions for")
        await priya.press_and_wait(button, message=plan, count=1)
        due = CALENDAR.add_working_days(self.first_meeting, 5).strftime("%d/%m/%Y")
        for number, line in enumerate(
            (
                f"Police: check bail conditions and flag the address by {due} high",
                "IDVA: update the safety plan and discuss a sanctuary scheme",
                "Drive: assess the person causing harm for intensive case management",
            ),
            start=1,
        ):
            await priya.send(line)
            await self.wait_for_text(priya, f"Saved action {number}:")
        await priya.send("/done")
        await self.wait_for_text(priya, "action(s) recorded")
        await priya.send_and_wait("/plan")
        plan, close = await self.button_starting(priya, "Close")
        await priya.press_and_wait(close, message=plan, expect_edit=True)
        for rep in (sam, jo, self.cast.drive):
            await self.wait_for_text(rep, "New MARAC action for your agency")
        await sam.press_and_wait("Accept", expect_edit=True)
        await jo.press_and_wait("Accept", expect_edit=True)
        await sam.send_and_wait("/actions")
        listing, first = await self.button_starting(sam, self.reference)
        opened = await sam.press_and_wait(first, message=listing, count=1)
        await sam.press_and_wait("Done", message=opened.new_messages[-1], count=1)
        await sam.send_and_wait("Bail conditions confirmed with the court; address flagged.")

    async def perpetrator_referral(self) -> None:
        """First contact is planned, and whoever holds the victim's safety plan is told at
        once, before any contact: the case's allocated IDVA, or the coordinator when no IDVA
        is allocated (the service's reply says which)."""
        pat, jo, priya = self.cast.drive, self.cast.idva, self.cast.coordinator
        await pat.send_and_wait("/actions")
        listing, button = await self.button_starting(pat, f"{self.reference}: Contact planned")
        await pat.press_and_wait(button, message=listing, count=1)
        planned = CALENDAR.add_working_days(CALENDAR.local_date(self.clock.now()), 2)
        (reply,) = await pat.send_and_wait(planned.strftime("%d/%m/%Y"))
        told = jo if "allocated IDVA" in (reply.text or "") else priya
        await self.wait_for_text(told, "plans first contact with the person causing harm")
        steps = ("Contact attempted", "Assessed", "Suitable", "Started")
        for step in (*steps, "Session attended", "Session missed"):
            await pat.send_and_wait("/actions")
            listing, button = await self.button_starting(pat, f"{self.reference}: {step}")
            await pat.press_and_wait(button, message=listing, count=1)
            await self.wait_for_text(told, f"now {step.lower()}")
        await priya.send_and_wait("/plan")

    async def referral(self) -> None:
        """Sam refers with the checklist he completed at the scene; Priya triages it."""
        sam, priya = self.cast.police, self.cast.coordinator
        # The children as people; Mia's date of birth is worked out from the demo's own clock.
        born = (self.today - timedelta(days=7 * 365 + 40)).strftime("%d/%m/%Y")
        await make_referral(
            sam,
            Referral(
                children=(
                    f"Mia Doe, {born}, Oak Primary School, lives with victim, CSC involved\n"
                    "Leo Doe, 18 months, Little Acorns Nursery, lives with victim, no CSC"
                ),
                # The concerns say she was strangled; the checklist said no to question 15.
                # Asked to review it, Sam changes it to yes (15 yes: still visible high risk,
                # not urgent, as threats to kill are answered no).
                story_choice="Change to yes",
            ),
        )
        result = await sam.press_and_wait("Submit referral", expect_edit=True)
        reference = REFERENCE.search(result.message.text or "")
        if reference is None:
            raise RuntimeError("the referral was not given a reference")
        self.reference = reference.group(1)
        await self.driver.wait_for(
            lambda: any(
                f"New referral {self.reference}" in (m.text or "") for m in priya.bot_messages()
            ),
            description="the coordinator's triage notice",
        )
        await priya.press_and_wait("Accept", expect_edit=True)
        await self.driver.wait_for(
            lambda: any("has been accepted" in (m.text or "") for m in sam.bot_messages()),
            description="the referrer to hear the case was accepted",
        )
        await self.cast.idva.send_and_wait(f"/case {self.reference}")
        await self.driver.wait_for(
            lambda: any("listed for the MARAC" in (m.text or "") for m in priya.bot_messages()),
            description="the case listed on the agenda",
        )
        await self.reassessment()

    async def reassessment(self) -> None:
        """Jo (the IDVA) completes a new DASH with the victim: the score has risen."""
        jo = self.cast.idva
        await jo.send_and_wait(f"/dash {self.reference}")
        await jo.press_and_wait("SafeLives DASH (24 questions)", expect_edit=True)
        await say(jo, "yes 1-16 18 20, not known 21")
        await jo.press_and_wait("That is right", expect_edit=True)
        await self.wait_for_text(jo, "New DASH recorded")

    async def idva_takes_the_case(self) -> None:
        """Jo was told of the referral when it was submitted; she takes it and records that she
        reached the victim."""
        jo = self.cast.idva
        await self.wait_for_text(jo, f"referral {self.reference} for the IDVA service")
        notice, button = await self.button_starting(jo, texts.BUTTON_TAKE_CASE)
        await jo.press_and_wait(button, message=notice, expect_edit=True)
        # The case is listed already: as its IDVA she is told for when.
        await self.wait_for_text(jo, f"{self.reference}, which you hold as IDVA, is listed")
        (card,) = await jo.send_and_wait(f"/case {self.reference}")
        menu = await jo.press_and_wait(texts.BUTTON_RECORD_CONTACT, message=card, count=1)
        await jo.press_and_wait(
            texts.CONTACT_OUTCOME_NAMES["contacted"],
            message=menu.new_messages[-1],
            expect_edit=True,
        )
        await self.cast.coordinator.send_and_wait("/idva")

    async def victim_voice(self) -> None:
        """Jo carries the victim's voice to the meeting: engagement and her views and wishes,
        typed once, stored sealed and deleted from the chat; the agenda says only that they
        are recorded."""
        jo = self.cast.idva
        (card,) = await jo.send_and_wait(f"/case {self.reference}")
        opened = await jo.press_and_wait(texts.BUTTON_VICTIM_VOICE, message=card, count=1)
        await jo.press_and_wait(
            texts.ENGAGEMENT_BUTTONS["partly_engaging"],
            message=opened.new_messages[-1],
            expect_edit=True,
        )
        status, button = await self.button_starting(jo, texts.BUTTON_RECORD_VIEWS)
        await jo.press_and_wait(button, message=status, count=1)
        await jo.send(
            "She wants him kept away from the children's school and a move to another "
            "area; she is frightened of the court date."
        )
        await self.wait_for_text(jo, f"The victim's views for {self.reference} are recorded")

    async def outcome_told(self) -> None:
        """After the meeting Jo is asked to tell the victim the outcome, and confirms she has."""
        jo = self.cast.idva
        await self.wait_for_text(jo, f"that heard {self.reference} is closed")
        asked, button = await self.button_starting(jo, texts.BUTTON_VICTIM_TOLD)
        await jo.press_and_wait(button, message=asked, expect_edit=True)

    async def minutes(self) -> None:
        """The coordinator's full copy of the minutes, then each agency's own copy."""
        priya, sam = self.cast.coordinator, self.cast.police
        await priya.send_and_wait("/plan")
        plan, button = await self.button_starting(priya, "Minutes")
        result = await priya.press_and_wait(button, message=plan, count=2)
        self._outline("coordinator's copy", result.new_messages)
        plan, button = await self.button_starting(priya, texts.BUTTON_SEND_MINUTES)
        await priya.press_and_wait(button, message=plan, expect_edit=True)
        ready, button = await self.button_starting(sam, texts.BUTTON_MY_MINUTES)
        result = await sam.press_and_wait(button, message=ready, count=2)
        self._outline("police copy", result.new_messages)

    def _outline(self, whose: str, messages: list[RecordedMessage]) -> None:
        """The headings of a minutes document that arrived, printed into the transcript."""
        self.flush()
        document = next(m for m in messages if m.document is not None)
        assert document.document is not None
        lines = docx_outline(document.document.content, with_text=True)
        self.out.write(f"  (the {whose}, by its headings, each with the start of what follows)\n")
        self.out.write("".join(f"    {line}\n" for line in lines))

    async def people_and_audit(self) -> None:
        priya = self.cast.coordinator
        await priya.send_and_wait("/people")
        await self.cast.police.send_and_wait("/agencies")
        self.clock.advance(timedelta(minutes=self.runtime.settings.sensitive_message_ttl_minutes))
        people_list = next(
            m for m in reversed(priya.bot_messages()) if (m.text or "").startswith("Enrolled")
        )
        await self.driver.wait_for(lambda: people_list.deleted, description="list deleted")


def demo_start(day: date) -> datetime:
    """07:30 on the demo's first day, whatever day it is: after the quiet hours, before 08:00.

    The demo starts on the day given, weekend or bank holiday included; its meetings fall
    on working days, and each reminder arrives on the day the area's calendar allows.
    """
    return datetime.combine(day, clock_time(7, 30), ZoneInfo(LONDON)).astimezone(UTC)


def today_in_london() -> date:
    return datetime.now(ZoneInfo(LONDON)).date()


async def run_demo(
    *,
    start: date | None = None,
    verbose: bool = False,
    out: TextIO | None = None,
    serve: bool = False,
    port: int = 8090,
    stop: asyncio.Event | None = None,
) -> int:
    """Play every scene built so far from ``start`` (default today); returns an exit code.

    With ``serve``, the demo's case workspace then stays open on 127.0.0.1:``port`` (0: any
    free port) until ``stop`` is set or the process is interrupted.
    """
    stream = out or sys.stdout
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="marac-demo-") as folder:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}",
            key_file=Path(folder) / "keys.json",
            job_interval_seconds=0.2,
            # A daily checkpoint message would land in the coordinator's scripted dialogue.
            audit_checkpoints=False,
        )
        create_key_file(settings.key_file)
        first_day = start or today_in_london()
        clock = ManualClock(demo_start(first_day))
        runtime = open_runtime(settings, clock=clock)
        try:
            await upgrade(runtime.engine)
            area = await runtime.services.areas.ensure_area("Northamptonshire")
            issued = await runtime.services.invites.issue(
                None, area_id=area.id, role=Role.COORDINATOR
            )
            stream.write(
                "marac-bot demo: the real bot, a fresh SQLite database and key file, and a local\n"
                "stand-in for Telegram. `marac-bot init` created the area "
                f"'{area.name}' and printed a one-time coordinator invite.\n"
                f"The demo's clock starts at {format_local(clock.now(), LONDON)}.\n"
            )
            async with BotApiStandIn() as server, running_bot(runtime, server):
                demo = Demo(runtime, server.driver(), clock, stream)
                await demo.scene(
                    "The first coordinator opens her invite",
                    lambda: demo.first_coordinator(issued.code),
                )
                await demo.scene("Someone who is not enrolled writes", demo.stranger_writes)
                await demo.scene("The coordinator adds the agencies", demo.agencies)
                await demo.scene(
                    "A police officer, an IDVA and a perpetrator-service worker enrol; "
                    "the coordinator confirms each is the person she invited",
                    demo.invites,
                )
                await demo.scene(
                    "Who is enrolled; permissions; the list disappears after 15 minutes",
                    demo.people_and_audit,
                )
                await demo.scene("The coordinator schedules fortnightly meetings", demo.schedule)
                await demo.scene(
                    "The police officer refers a high-risk case; the coordinator accepts it "
                    "and it is listed for the next meeting",
                    demo.referral,
                )
                await demo.scene(
                    "The IDVA service was told of the referral at once; an IDVA takes the "
                    "case and records that she reached the victim",
                    demo.idva_takes_the_case,
                )
                await demo.scene(
                    "The IDVA records how the victim is engaging and her views and wishes for "
                    "the meeting",
                    demo.victim_voice,
                )
                await demo.scene(
                    "The agenda is published; agencies return research and confirm attendance",
                    demo.publish_and_research,
                )
                await demo.scene("Reminders arrive as the meeting approaches", demo.reminders)
                await demo.scene(
                    "The meeting agrees actions; agencies accept and complete them",
                    demo.action_plan,
                )
                await demo.scene(
                    "The perpetrator service plans first contact; the victim's IDVA (or, with "
                    "none allocated, the coordinator) is told before any contact, then of "
                    "each step and session",
                    demo.perpetrator_referral,
                )
                await demo.scene(
                    "After the meeting the IDVA confirms the victim was told the outcome",
                    demo.outcome_told,
                )
                await demo.scene(
                    "Clare's Law: the police officer records a right-to-ask application for "
                    "the case; a check is asked and done, the panel decides to disclose, the "
                    "safety plan is recorded; the coordinator sees its status on the card",
                    lambda: clares_law(demo),
                )
                await demo.scene(
                    "The coordinator sends the minutes; each agency receives only its own copy",
                    demo.minutes,
                )
                await demo.scene(
                    "The IDVA chooses Cymraeg and uses the bot in Welsh; a notice from the "
                    "English-speaking coordinator reaches her in Welsh",
                    lambda: welsh_language(demo),
                )
                await demo.scene(
                    "The victim moves: the case is transferred to Leicestershire MARAC with "
                    "both coordinators' action, and the IDVA's handover note goes with it",
                    lambda: transfer(demo),
                )
                demo.flush()
                stream.write(
                    "\nCase details came in protected messages that delete themselves, because "
                    "this demo has no case workspace address. In production, MARAC_WEBAPP_URL "
                    "(HTTPS) serves them as a Telegram Mini App and the chat keeps only "
                    "references and buttons; `marac-bot demo --serve` opens the demo's pages "
                    "in a browser.\n"
                )
                if serve:
                    await _serve(runtime, server.token, demo, stream, port, stop)
            async with runtime.sessions() as session:
                report = await verify_chain(session)
        finally:
            await runtime.close()
    stream.write(
        f"\nAudit log: {report.events_checked} events, chain "
        f"{'intact' if report.intact else 'BROKEN'}.\n"
        f"Demo finished in {time.perf_counter() - started:.1f} s.\n"
    )
    return 0 if report.intact else 1


async def _serve(
    runtime: Runtime,
    token: str,
    demo: Demo,
    stream: TextIO,
    port: int,
    stop: asyncio.Event | None,
) -> None:
    """Keep the demo's workspace open until stopped (Ctrl-C, or ``stop`` in a test)."""
    from bot.cli.demo_serve import demo_pages, serve_demo_workspace

    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    cast = demo.cast
    try:
        pages = await demo_pages(
            runtime, demo.reference, cast.coordinator, cast.police, cast.idva, cast.drive
        )
        await serve_demo_workspace(runtime, token, pages, stream, port=port, stop=stop)
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
