"""The case workspace: a Telegram Mini App where case content is read instead of the chat.

Telegram chats are not end-to-end encrypted, so the chat carries references and buttons;
a ``web_app`` button opens a page here. The page is a shell with no data in it; its
script trades Telegram's signed launch data for a short session (``POST api/session``),
then fetches the page's content, rendered on the server, with the session in an
``Authorization`` header. Every request finds the person active afresh and asks the same
services the chat uses, so the same access policy decides, and each page view is recorded
against every case it shows.

Routes, under the path of ``MARAC_WEBAPP_URL``:

``GET /{page}/{ids}``  the shell for a page (``bot.buttons.PAGES``: case, research-item,
                       research, board, actions, minutes)
``GET /static/app.css``, ``/static/app.js``  its only assets
``POST /api/session``  ``{"initData": ...}`` -> ``{"token": ...}``
``GET /api/page/{page}/{ids}``  the page's content (HTML)
``POST /api/research/{item}``  a research return; answers with the research sheet again

Every response says ``Cache-Control: no-store`` and carries a Content-Security-Policy that
allows this origin and Telegram's ``telegram-web-app.js`` only, and framing only by
Telegram's web client. Nothing personal is ever in a URL: ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Final

from aiohttp import web

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.adapter.errors import is_unavailable
from bot.errors import NotFound, ServiceError
from bot.launch_data import InitDataRejected, verify_init_data
from bot.logging_setup import describe
from bot.permissions import Operation, PermissionDenied, may
from bot.referrals.validation import InputError, clean_free_text
from bot.runtime import Runtime
from bot.workspace.pages import PageRenderer
from bot.workspace.sessions import SessionKeys

log = logging.getLogger("marac.workspace")

TELEGRAM_SCRIPT: Final = "https://telegram.org/js/telegram-web-app.js"
# Telegram's web clients, the only sites that may frame the workspace.
TELEGRAM_WEB_CLIENTS: Final = "https://web.telegram.org"
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        f"script-src 'self' {TELEGRAM_SCRIPT}",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        f"frame-ancestors {TELEGRAM_WEB_CLIENTS}",
    ]
)
SECURITY_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
STATIC_FILES: Final = {"app.css": "text/css", "app.js": "text/javascript"}
MAX_BODY: Final = 16 * 1024  # a research note is at most 2,000 characters
RESEARCH_NOTE_LENGTH: Final = (3, 2000)


@dataclass(frozen=True)
class Workspace:
    runtime: Runtime
    bot_token: str
    sessions: SessionKeys
    prefix: str
    pages: PageRenderer


WORKSPACE_KEY: Final = web.AppKey("workspace", Workspace)


class Refused(Exception):
    """An answer other than the page: the status and the words to show."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(code)
        self.status, self.message, self.code = status, message, code


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as error:  # a 404 from the router: the same headers
        error.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


def _workspace(request: web.Request) -> Workspace:
    return request.app[WORKSPACE_KEY]


async def _shell(request: web.Request) -> web.Response:
    """The page's frame: no case data, so it is the same for everyone who asks."""
    workspace = _workspace(request)
    page = request.match_info["page"]
    ids = request.match_info.get("ids", "")
    if page not in workspace.pages.names or not _ids_ok(ids):
        raise web.HTTPNotFound(text=texts.WS_NOT_FOUND)
    html = workspace.pages.shell(prefix=workspace.prefix, page=f"{page}/{ids}".rstrip("/"))
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def _ids_ok(ids: str) -> bool:
    return ids == "" or all(part.isdigit() and len(part) <= 18 for part in ids.split("/"))


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    body = resources.files("bot.workspace").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=STATIC_FILES[name], charset="utf-8")


def _json_refusal(refused: Refused) -> web.Response:
    return web.json_response(
        {"error": refused.code, "message": refused.message}, status=refused.status
    )


async def _sign_in(request: web.Request) -> web.Response:
    """Telegram's launch data for a session; the person must be enrolled and active."""
    workspace = _workspace(request)
    now = workspace.runtime.clock.now()
    try:
        body = await request.json()
        raw = str(body.get("initData", "")) if isinstance(body, dict) else ""
    except (ValueError, UnicodeDecodeError):
        raw = ""
    try:
        user = verify_init_data(raw, workspace.bot_token, now)
    except InitDataRejected as rejected:
        log.info("workspace sign-in refused: %s", rejected.reason)
        await workspace.runtime.services.audit.record_refusal(
            action="workspace.refused", actor=None, reason=rejected.reason
        )
        return _json_refusal(Refused(401, texts.WS_NEEDS_TELEGRAM, "launch_data"))
    try:
        actor = await workspace.runtime.services.enrolment.identify(user.telegram_user_id)
    except Exception as error:
        return _json_refusal(_failure(error))
    if actor is None:
        await workspace.runtime.services.audit.record_refusal(
            action="workspace.refused",
            actor=None,
            reason="not enrolled",
            source=user.telegram_user_id,
        )
        return _json_refusal(Refused(403, texts.WS_NOT_ENROLLED, "not_enrolled"))
    token = workspace.sessions.issue(actor.person_id, user.telegram_user_id, now)
    return web.json_response({"token": token})


async def _actor(request: web.Request) -> Actor:
    """The person behind the session, read afresh: a leaver's session ends with their access."""
    workspace = _workspace(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    claims = (
        workspace.sessions.read(token.strip(), workspace.runtime.clock.now())
        if scheme.lower() == "bearer"
        else None
    )
    if claims is None:
        raise Refused(401, texts.WS_SESSION_ENDED, "session")
    actor = await workspace.runtime.services.enrolment.identify(claims.telegram_user_id)
    if actor is None or actor.person_id != claims.person_id:
        raise Refused(401, texts.WS_NOT_ENROLLED, "not_enrolled")
    return actor


def _failure(error: BaseException) -> Refused:
    if is_unavailable(error):
        log.warning("workspace: database or key service unavailable: %s", describe(error))
        return Refused(503, texts.WS_UNAVAILABLE, "unavailable")
    log.error("workspace request failed: %s", describe(error))
    return Refused(500, texts.SOMETHING_WENT_WRONG, "failed")


async def _answer(request: web.Request, render: Callable[[Actor], Awaitable[str]]) -> web.Response:
    """Run ``render`` for the session's person, turning refusals into the page's words.

    A case the person may not see is answered exactly as one that does not exist.
    """
    workspace = _workspace(request)
    actor: Actor | None = None
    try:
        actor = await _actor(request)
        html = await render(actor)
        return web.Response(text=html, content_type="text/html", charset="utf-8")
    except Refused as refused:
        return _json_refusal(refused)
    except PermissionDenied as denied:
        await workspace.runtime.services.audit.record_refusal(
            action="permission.denied", actor=actor, reason=denied.operation.name
        )
        return _fragment_refusal(workspace, 403, texts.WS_NOT_PERMITTED)
    except NotFound:
        await workspace.runtime.services.audit.record_refusal(
            action="request.refused", actor=actor, reason="NotFound"
        )
        return _fragment_refusal(workspace, 404, texts.WS_NOT_FOUND)
    except ServiceError as error:
        return _fragment_refusal(workspace, 409, error.user_message)
    except Exception as error:
        failed = _failure(error)
        return _fragment_refusal(workspace, failed.status, failed.message)


def _fragment_refusal(workspace: Workspace, status: int, message: str) -> web.Response:
    return web.Response(
        text=workspace.pages.refusal(message),
        status=status,
        content_type="text/html",
        charset="utf-8",
    )


def _id(request: web.Request) -> int:
    ids = request.match_info.get("ids", "")
    if not ids.isdigit() or len(ids) > 18:
        raise NotFound(texts.WS_NOT_FOUND)
    return int(ids)


async def _page(request: web.Request) -> web.Response:
    workspace = _workspace(request)
    page = request.match_info["page"]
    services = workspace.runtime.services
    pages = workspace.pages

    async def render(actor: Actor) -> str:
        if page == "case":
            card = await services.cases.card_by_id(actor, _id(request), path=CasePath.CASE_PAGE)
            voice = await services.victim_voice.read(actor, card.id)
            handover = await services.transfers.read(actor, card.id)
            return pages.case(actor, card, voice, handover)
        if page == "research":
            sheet = await services.meetings.research_sheet(actor, _id(request))
            return pages.research(actor, sheet)
        if page == "research-item":
            item_id = _id(request)
            meeting_id = await services.meetings.meeting_of_item(actor, item_id)
            sheet = await services.meetings.research_sheet(actor, meeting_id)
            return pages.research(actor, sheet, focus=item_id)
        if page == "board":
            detail = await services.meetings.detail(
                actor, _id(request), path=CasePath.MEETING_BOARD
            )
            voices = await services.victim_voice.for_meeting(actor, detail.meeting.id)
            return pages.board(actor, detail, voices)
        if page == "minutes":
            minutes = await services.actions.minutes_to_read(actor, _id(request))
            return pages.minutes(actor, minutes)
        if page == "actions":
            actions = await services.actions.open_page(actor, path=CasePath.ACTIONS_PAGE)
            referrals = (
                await services.actions.perpetrator_referrals(actor, path=CasePath.ACTIONS_PAGE)
                if may(actor, Operation.WORK_ACTIONS)
                else []
            )
            return pages.actions(actor, actions.views, referrals)
        raise NotFound(texts.WS_NOT_FOUND)

    return await _answer(request, render)


async def _return_research(request: web.Request) -> web.Response:
    """A research return from the sheet; the sheet comes back with the answer recorded, or
    with the person's words kept beside what needs changing."""
    workspace = _workspace(request)
    services = workspace.runtime.services
    item_id = _id(request)
    form = await request.post()
    outcome = str(form.get("outcome", ""))
    note_text = str(form.get("note", ""))

    async def render(actor: Actor) -> str:
        meeting_id = await services.meetings.meeting_of_item(actor, item_id)
        problem = None
        note: str | None = None
        if outcome not in ("nothing_known", "information"):
            problem = texts.WS_RESEARCH_CHOOSE
        elif outcome == "information":
            low, high = RESEARCH_NOTE_LENGTH
            try:
                note = clean_free_text(note_text, max_length=high, min_length=low)
            except InputError as error:
                problem = str(error)
        if problem is None:
            reference = await services.meetings.record_research(actor, item_id, outcome, note)
            sheet = await services.meetings.research_sheet(actor, meeting_id)
            done = texts.ws_research_recorded(reference, outcome == "nothing_known")
            return workspace.pages.research(actor, sheet, focus=item_id, saved=done)
        sheet = await services.meetings.research_sheet(actor, meeting_id)
        return workspace.pages.research(
            actor, sheet, focus=item_id, problem=problem, draft=(outcome, note_text)
        )

    return await _answer(request, render)


def build_workspace(runtime: Runtime, *, bot_token: str, prefix: str) -> web.Application:
    """The workspace as an aiohttp app, to be mounted at ``prefix`` (the URL's path)."""
    app = web.Application(middlewares=[_headers], client_max_size=MAX_BODY)
    pages = PageRenderer(prefix)
    app[WORKSPACE_KEY] = Workspace(runtime, bot_token, SessionKeys(bot_token), prefix, pages)
    app.router.add_get("/static/{name}", _static)
    app.router.add_post("/api/session", _sign_in)
    app.router.add_get(r"/api/page/{page}/{ids:\d+}", _page)
    app.router.add_get("/api/page/{page}", _page)
    app.router.add_post(r"/api/research/{ids:\d+}", _return_research)
    app.router.add_get(r"/{page}/{ids:\d+}", _shell)
    app.router.add_get("/{page}", _shell)
    return app


def workspace_prefix(webapp_url: str) -> str:
    """The path the workspace is served under: the path of its public address."""
    return "/" + webapp_url.split("://", 1)[1].partition("/")[2].strip("/")


def mount_workspace(app: web.Application, runtime: Runtime) -> None:
    """Serve the workspace from ``app`` (the webhook's, or one of its own), if it is set up."""
    url = runtime.settings.webapp_url
    if url is None:
        return
    prefix = workspace_prefix(url)
    if prefix in {"/healthz", "/metrics", "/api", runtime.settings.webhook_path}:
        raise ValueError(f"MARAC_WEBAPP_URL's path {prefix} is taken by the webhook's routes")
    app.add_subapp(
        prefix, build_workspace(runtime, bot_token=runtime.settings.token(), prefix=prefix)
    )
