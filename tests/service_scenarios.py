"""Driving services the way the handlers do, for tests that need a real case behind them."""

from __future__ import annotations

from bot.actor import Actor
from bot.referrals import flow
from bot.runtime import Runtime
from bot.services.referrals import Submitted

TYPED = {
    "safe_details": "Call after 6pm only",
    "consent_reason": "Risk of serious harm to the children",
    "dash_quick": "yes 1-13 16, not known 20",
    "judgement_reason": "Extreme fear and recent strangulation reported",
    "police_incidents": "4",
    "victim_name": "Jane Doe",
    "victim_dob": "14/03/1990",
    "victim_aliases": "none",
    "victim_address": "12 Elm Road",
    "perp_name": "John Doe",
    "perp_dob": "unknown",
    "children": "2: 4, 7",
    "summary": "Threatened with a knife last week.",
}
CHOSEN = {"dash_mode": 1, "urgent": 1}  # quick entry; not urgent; otherwise the first button


async def refer(
    runtime: Runtime, actor: Actor, *, typed: dict[str, str] | None = None
) -> Submitted:
    """A complete referral through the service, answering every step as the form asks."""
    answers = {**TYPED, **(typed or {})}
    referrals = runtime.services.referrals
    state = await referrals.start(actor)
    while state.payload["step"] != "review":
        key = str(state.payload["step"])
        if flow.kind_of(key) == "text":
            state = await referrals.answer(actor, answers[key])
        else:
            state = await referrals.choose(actor, flow.step_number(key), CHOSEN.get(key, 0))
    return await referrals.submit(actor, flow.step_number("review"))
