"""The workspace's pages, rendered on the server with Jinja2 from what the services return.

Templates hold structure only: every word comes from ``bot.texts`` (a test checks that no
template has words of its own), values are escaped by Jinja2's autoescape, and times are
shown on the reader's area clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot import texts
from bot.access import Level
from bot.actions.minutes import MeetingMinutes, absent, action_rows, apology_reason, present
from bot.actions.states import ACTION_LABELS, END_REASON_LABELS, PERP_LABELS
from bot.actor import Actor
from bot.buttons import PAGES
from bot.dates import format_local, format_uk_date
from bot.i18n import ENGLISH, _, for_reader, speaking
from bot.services.actions import ActionView, PerpView
from bot.services.cases import CaseCard
from bot.services.meetings import MeetingDetail, ResearchSheet
from bot.services.transfers import Handover
from bot.services.victim_voice import VictimVoice

# The research sheet of a whole meeting has no button of its own (each case's button opens
# the sheet at that case), so it is named here beside the pages the buttons open.
PAGE_NAMES = frozenset({*PAGES, "research"})


def _in_readers_language(value: object) -> object:
    """Jinja2's finalize: a printed text that is a msgid, in the reader's language."""
    return for_reader(value) if isinstance(value, str) and value else value


def _ngettext(singular: str, plural: str, n: int) -> str:
    return _(singular if n == 1 else plural)


class PageRenderer:
    """One Jinja2 environment for the process; each method renders one page's content."""

    names = PAGE_NAMES

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._env = Environment(
            loader=PackageLoader("bot.workspace", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # Words come from bot/texts.py (``t``), in the catalogue: each printed text is put
            # into the reader's language by its exact msgid (bot.i18n), like the chat's.
            extensions=["jinja2.ext.i18n"],
            finalize=_in_readers_language,
        )
        self._env.install_gettext_callables(  # type: ignore[attr-defined]
            gettext=_, ngettext=_ngettext, newstyle=False
        )
        self._env.globals.update(
            t=texts,
            prefix=prefix,
            action_labels=ACTION_LABELS,
            perp_labels=PERP_LABELS,
            end_reason_labels=END_REASON_LABELS,
            Level=Level,
            present=present,
            absent=absent,
            apology_reason=apology_reason,
            action_rows=action_rows,
        )
        self._env.filters["uk_date"] = _uk_date

    def _render(self, name: str, actor: Actor | None, **values: Any) -> str:
        zone = actor.timezone if actor is not None else "Europe/London"
        language = actor.language if actor is not None else ENGLISH

        def local(moment: datetime | None) -> str:
            return format_local(moment, zone) if moment is not None else texts.WS_NOT_GIVEN

        # The page is the reader's: their language (the shell, before we know who, is English).
        with speaking(language):
            return self._env.get_template(name).render(
                local=local, actor=actor, language=language, **values
            )

    def shell(self, *, prefix: str, page: str) -> str:
        return self._render("shell.html", None, page=page)

    def refusal(self, message: str) -> str:
        return self._render("refusal.html", None, message=message)

    def case(
        self,
        actor: Actor,
        card: CaseCard,
        voice: VictimVoice | None = None,
        handover: Handover | None = None,
    ) -> str:
        return self._render("case.html", actor, card=card, voice=voice, handover=handover)

    def research(
        self,
        actor: Actor,
        sheet: ResearchSheet,
        *,
        focus: int | None = None,
        saved: str | None = None,
        problem: str | None = None,
        draft: tuple[str, str] | None = None,
    ) -> str:
        return self._render(
            "research.html",
            actor,
            sheet=sheet,
            focus=focus,
            saved=saved,
            problem=problem,
            draft=draft,
        )

    def minutes(self, actor: Actor, minutes: MeetingMinutes) -> str:
        """A reader's copy of the minutes, read here rather than sent through the chat."""
        return self._render("minutes.html", actor, minutes=minutes)

    def board(
        self,
        actor: Actor,
        detail: MeetingDetail,
        voices: Mapping[int, VictimVoice] | None = None,
    ) -> str:
        invited = [(agency_id, name) for agency_id, name in detail.agencies]
        return self._render(
            "board.html", actor, detail=detail, invited=invited, voices=voices or {}
        )

    def actions(
        self, actor: Actor, actions: Sequence[ActionView], referrals: Sequence[PerpView]
    ) -> str:
        return self._render("actions.html", actor, actions=actions, referrals=referrals)


def _uk_date(value: object) -> str:
    if isinstance(value, date | datetime):
        return format_uk_date(value)
    return texts.uk_date(value)
