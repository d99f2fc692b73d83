"""What the bot's logs keep and drop: a job cancelled because the bot is stopping is not an
error (it used to print a traceback at the end of the demo); every other job failure is."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.logging_setup import JOB_EXECUTOR_LOGGER, quiet_libraries


def _job_failed(error: BaseException) -> None:
    try:
        raise error
    except BaseException:
        logging.getLogger(JOB_EXECUTOR_LOGGER).exception('Job "%s" raised an exception', "tick")


def test_a_job_cancelled_at_shutdown_is_not_logged_but_a_failure_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    quiet_libraries()
    quiet_libraries()  # as build_application and configure_logging both do: one filter
    executor = logging.getLogger(JOB_EXECUTOR_LOGGER)
    assert len(executor.filters) == 1
    with caplog.at_level(logging.ERROR, logger=JOB_EXECUTOR_LOGGER):
        _job_failed(asyncio.CancelledError())
        assert caplog.records == []
        _job_failed(ValueError("the database went away"))
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is not None


def test_the_http_clients_that_see_the_token_stay_quiet_even_at_debug() -> None:
    """Their request lines carry the bot token: MARAC_LOG_LEVEL=DEBUG must not let them out."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.DEBUG)
    try:
        quiet_libraries()
        for name in ("aiohttp.client", "httpx"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    finally:
        root.setLevel(before)
        quiet_libraries()
