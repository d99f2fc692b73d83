"""Building the python-telegram-bot Application, the same way for run, demo and tests."""

from __future__ import annotations

import logging
import warnings
from typing import Any

from telegram import BotCommand, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PersistenceInput,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.adapter.aiohttp_request import AiohttpRequest
from bot.adapter.context import BotData, MaracContext
from bot.adapter.errors import on_error
from bot.adapter.jobs import schedule_jobs
from bot.adapter.marac_bot import adopt
from bot.adapter.persistence import WRITE_THROUGH_GROUP, DatabasePersistence, write_through_handler
from bot.adapter.rate_limiter import LaneRateLimiter
from bot.adapter.update_order import ChatOrderedUpdateProcessor
from bot.logging_setup import describe, quiet_libraries
from bot.permissions import COMMANDS, Operation
from bot.runtime import Runtime
from bot.send_lanes import Limits
from config.settings import bot_api_base_url, bot_api_file_url
from handlers import (
    actions,
    agencies,
    audit,
    cases,
    closures,
    dash,
    enrolment,
    erasure,
    idva,
    invites,
    language,
    meetings,
    people,
    referral,
    statistics,
    transfers,
    victim_voice,
)
from handlers import dvds as dvds_handlers
from handlers.guard import GUARD_GROUP, guard
from handlers.help import help_command
from handlers.stale_buttons import refuse_unrecognised
from handlers.start import not_understood, start

MaracApplication = Application[Any, MaracContext, dict[str, Any], dict[str, Any], BotData, Any]


async def _post_init(application: MaracApplication) -> None:
    """Strangers see only /start and /help in the default command menu."""
    public = [
        BotCommand(c.name, c.description) for c in COMMANDS if c.operation is Operation.USE_BOT
    ]
    await application.bot.set_my_commands(public)


async def _post_stop(application: MaracApplication) -> None:
    """What strangers' refusals were counted and not yet summarised goes into the audit trail
    (bot.services.audit_trail); a database that is down at stop costs only that count."""
    try:
        await application.bot_data.runtime.services.audit.summarise_refusals(force=True)
    except Exception as error:
        logging.getLogger("marac").warning("refusal summary not written: %s", describe(error))


def build_application(
    runtime: Runtime,
    *,
    token: str | None = None,
    base_url: str | None = None,
    rate_limit: bool = True,
    limits: Limits | None = None,
) -> MaracApplication:
    """The real Application: real handlers, database persistence, rate limiting.

    ``limits``: Telegram's limits as the rate limiter keeps them (``bot.send_lanes.Limits``,
    whose defaults are Telegram's).

    ``base_url`` points it at a self-hosted Bot API server, Telegram's test
    environment, or the local stand-in; it defaults to the settings.
    """
    settings = runtime.settings
    quiet_libraries()
    builder = (
        ApplicationBuilder()
        .token(token or settings.token())
        .context_types(ContextTypes(context=MaracContext, bot_data=BotData))
        .persistence(
            DatabasePersistence(
                runtime.sessions,
                # user_data holds only ids and choices between steps, never case content.
                store_data=PersistenceInput(
                    bot_data=False, chat_data=False, user_data=True, callback_data=False
                ),
            )
        )
        .post_init(_post_init)
        .post_stop(_post_stop)
        # Different people's updates side by side, one person's in turn; each timed for /metrics.
        .concurrent_updates(ChatOrderedUpdateProcessor(settings.concurrent_updates))
        # aiohttp instead of PTB's httpx: half the CPU per Bot API call (see that module).
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
    )
    base = base_url or settings.telegram_base_url
    if base:
        builder = builder.base_url(bot_api_base_url(base)).base_file_url(bot_api_file_url(base))
    if rate_limit:
        # Stays within Telegram's limits (30 messages a second overall, paced per chat), answers
        # people before the outbox's bulk sends, and waits out RetryAfter (bot.send_lanes).
        builder = builder.rate_limiter(LaneRateLimiter(limits, max_retries=3))  # type: ignore[arg-type]
    application: MaracApplication = builder.build()
    # Every request goes out in its reader's language (bot.i18n; English is left untouched),
    # and text replies are sent without parsing Telegram's echo of them (bot.adapter.marac_bot).
    adopt(application.bot)
    application.bot_data.runtime = runtime
    register_handlers(application)
    schedule_jobs(application, settings.job_interval_seconds, settings.timezone)
    return application


def register_handlers(application: MaracApplication) -> None:
    """Order matters within group 0: the first handler that matches an update wins."""
    # Our conversations start from buttons and then read typed replies per chat and user,
    # which is what we want; PTB's per_message advice is for button-only conversations.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    application.add_handler(TypeHandler(Update, guard), group=GUARD_GROUP)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    for module in (
        referral,
        cases,
        dash,
        erasure,
        idva,
        meetings,
        closures,
        actions,
        statistics,
        agencies,
        invites,
        people,
        enrolment,
        audit,
        victim_voice,
        dvds_handlers,
        transfers,
        language,
    ):
        application.add_handlers(module.build_handlers())
    application.add_handler(CallbackQueryHandler(refuse_unrecognised))
    application.add_handler(MessageHandler(filters.ALL, not_understood))
    # Save conversation steps after every update, so a crash loses at most the current one.
    application.add_handler(write_through_handler(), group=WRITE_THROUGH_GROUP)  # type: ignore[arg-type]
    application.add_error_handler(on_error)
