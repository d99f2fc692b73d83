"""Referral rules: the Dash checklist, the four MARAC criteria and the checks on typed answers.

Everything here is a pure function of its arguments, so the rules can be tested
exhaustively and reused by any front end. Anything a person typed that cannot be
used is refused with ``InputError``, whose message is written to be shown to them
as it is.
"""

from __future__ import annotations

from bot.referrals.validation import InputError

__all__ = ["InputError"]
