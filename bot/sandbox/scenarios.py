"""Scripted scenes played through the driver, shared by the demo and the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox.driver import SimulatedUser
from bot.sandbox.records import RecordedMessage


@dataclass(frozen=True)
class Referral:
    victim: str = "Jane Doe"
    victim_dob: str = "14/03/1990"
    victim_address: str = "12 Elm Road, Northampton"
    perpetrator: str = "John Doe"
    perpetrator_address: str = "4 Mill Lane, Northampton"
    checklist: str = "yes 1-13 16, not known 20"  # 14 yes: visible high risk, not urgent
    form: str = "SafeLives DASH (24 questions)"  # the form the checklist's numbers come from
    urgent: bool = False
    summary: str = "Strangled at the scene last night; he has threatened to take the children."
    # The concerns mention strangulation, which the checklist answers no (question 15): the
    # referrer is asked to review it before submitting, and taps this.
    story_choice: str = "Keep"
    # One child per line, as the children question asks (the demo gives a date of birth
    # worked out from its own clock).
    children: str = (
        "Mia Doe, age 7, Oak Primary School, lives with victim, CSC involved\n"
        "Leo Doe, 18 months, Little Acorns Nursery, lives with victim, no CSC"
    )


async def press(user: SimulatedUser, label: str) -> RecordedMessage:
    """Press a button on the latest question and return the next question.

    Waits for the button first: a notification may arrive just before the question does.
    """

    def question() -> RecordedMessage | None:
        latest = [m for m in user.bot_messages() if m.buttons]
        return latest[-1] if latest and latest[-1].find_button(label) else None

    message = await user.driver.wait_for(question, description=f"a question with [{label}]")
    result = await user.press_and_wait(label, message=message, count=1, expect_edit=True)
    return result.new_messages[-1]


async def say(user: SimulatedUser, text: str) -> RecordedMessage:
    return (await user.send_and_wait(text))[-1]


async def make_referral(user: SimulatedUser, referral: Referral = Referral()) -> RecordedMessage:
    """Answer every question; returns the review message (with its Submit button)."""
    await user.send_and_wait("/refer")
    await press(user, "Yes")  # safe to contact
    await say(user, "Mobile 07700 900123 after 6pm; her mother must not be told")
    await press(user, "Yes")  # aware
    await press(user, "Yes")  # consent
    await press(user, "I have a completed checklist")
    await press(user, referral.form)
    await say(user, referral.checklist)
    criterion = await press(user, "That is right")
    await press(user, criterion.buttons[0][0].text)
    await say(user, referral.victim)
    await say(user, referral.victim_dob)
    await say(user, "none")
    await say(user, referral.victim_address)
    await press(user, "Female")
    await press(user, "No")
    await press(user, "No")
    await press(user, "Not known")
    await say(user, referral.perpetrator)
    await say(user, "01/01/1985")
    await say(user, referral.perpetrator_address)
    await press(user, "Ex-partner")
    await say(user, referral.children)
    await say(user, referral.summary)
    following = await press(user, "Yes, urgent" if referral.urgent else "No")
    while following.find_button(referral.story_choice) and following.find_button("Keep"):
        following = await press(user, referral.story_choice)  # the concerns against the answers
    return following
