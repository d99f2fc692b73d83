"""PTB's Bot API requests sent with aiohttp instead of httpx.

Why: every update the bot answers costs at least one Bot API call, and profiling the bot under
load (issue #20, README "Benchmark") showed httpx's request machinery as the largest single
share of the bot's own CPU per update: building the request, its connection pool and the
response stream took more than our handlers' statements. aiohttp's client does the same work
in far less Python. PTB makes the HTTP client pluggable through ``BaseRequest``; this is that
plug, with PTB's own defaults (pool size, the four timeouts, the longer write timeout for
uploads) and PTB's errors (``TimedOut``, ``NetworkError``), so the rest of PTB — and the rate
limiter, retries and error handling above it — cannot tell the difference.

aiohttp has no separate write timeout: a request's whole time is bounded by the read timeout
plus the write timeout (uploads: the media write timeout), as the sum of the two phases.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput, UploadFileDict
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's HTTPXRequest defaults (python-telegram-bot v22), kept the same on purpose.
DEFAULT_POOL_SIZE: Final = 256
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_POOL_TIMEOUT: Final = 1.0
DEFAULT_MEDIA_WRITE_TIMEOUT: Final = 20.0


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool, opened by ``initialize``."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = DEFAULT_POOL_SIZE,
        read_timeout: float | None = DEFAULT_TIMEOUT,
        write_timeout: float | None = DEFAULT_TIMEOUT,
        connect_timeout: float | None = DEFAULT_TIMEOUT,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
        media_write_timeout: float | None = DEFAULT_MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                # PTB parses the bytes itself; no cookies travel to or from the Bot API.
                cookie_jar=aiohttp.DummyCookieJar(),
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data is not None else None
        read = _chosen(read_timeout, self._read_timeout)
        write = _chosen(write_timeout, self._media_write_timeout if files else self._write_timeout)
        connect = _chosen(connect_timeout, self._connect_timeout)
        pool = _chosen(pool_timeout, self._pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None if read is None or write is None else read + write,
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        # Uploads go as multipart form data, as PTB's own request sends them; everything else
        # as one JSON body, which the Bot API accepts and which costs less to build than
        # URL-encoding each JSON-serialised field (keyboards are long).
        form = _multipart(request_data.json_parameters, files) if request_data and files else None
        payload = request_data.parameters if request_data is not None and not files else None
        try:
            async with session.request(
                method, url, data=form, json=payload, timeout=timeout, proxy=self._proxy(url)
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            # As PTB's httpx request does: the client's own class name helps when the
            # message is empty.
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error

    def _proxy(self, url: str) -> str | None:
        """The egress proxy the environment names for this URL (HTTPS_PROXY, NO_PROXY), as
        httpx uses for PTB: council and police networks often reach the internet only through
        one. Looked up once per host: aiohttp's own ``trust_env`` reads the environment and
        ``~/.netrc`` on every request, which cost more than the rest of the request."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = bool(proxy_bypass(key[1])) if key[1] else False
            self._proxies[key] = None if bypass else getproxies().get(key[0])
        return self._proxies[key]


def _chosen(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout given for this one call wins over the instance's."""
    if isinstance(value, DefaultValue):
        return default
    return value


def _multipart(fields: dict[str, str], files: UploadFileDict) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
