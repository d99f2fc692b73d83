"""A small TCP proxy that the tests can cut or freeze, to give the bot a real database outage.

Simulating an outage inside the bot (a patched service raising ``ConnectionRefusedError``) only
proves the error handler; it cannot show what the engine's pool, the driver's reconnects, the
persistence and the jobs do when the database really goes away and comes back. Putting this
proxy between the bot's engine and PostgreSQL can. It fails in the two ways a database does:

* :meth:`TcpProxy.cut` is a server that went down (restarted, crashed, failed over): every
  open connection is reset and the port refuses new ones, so the driver learns at once;
* :meth:`TcpProxy.freeze` is a server that stopped answering (a hung host, a network partition
  dropping packets): connections stay open and new ones are accepted, but nothing comes back,
  so only the driver's own time-outs can end the wait.

:meth:`TcpProxy.restore` listens on the same port again, forwarding normally; what the bot has
to do to find its way back is up to the bot.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Final

_CHUNK: Final = 64 * 1024


class TcpProxy:
    """Forwards ``host:port`` to ``upstream``; one upstream connection per client connection."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self.port = port
        self.accepted = 0  # client connections forwarded since start, across outages
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen; the first start picks a free port, later ones (restore) reuse it."""
        self._flowing.set()
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """The server went down: refuse new connections and reset every open one, at once."""
        server, self._server = self._server, None
        if server is not None:
            # Not wait_closed(): on Python 3.12+ it waits for the connections aborted below.
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()  # RST, not a polite FIN: nobody gets a goodbye
        self._writers.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def freeze(self) -> None:
        """The server stopped answering: hold every byte and every new connection, silently."""
        self._flowing.clear()

    async def restore(self) -> None:
        """The database is back: forward again, accepting connections on the same port."""
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def _serve(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client)
        upstream: asyncio.StreamWriter | None = None
        try:
            await self._flowing.wait()  # frozen: the client's connect hangs on its handshake
            if self._server is None:  # accepted just as the proxy was cut
                return
            try:
                upstream_reader, upstream = await asyncio.open_connection(
                    self.upstream_host, self.upstream_port
                )
            except OSError:
                return
            self._writers.add(upstream)
            self.accepted += 1
            await asyncio.gather(
                self._pump(client_reader, upstream), self._pump(upstream_reader, client)
            )
        except asyncio.CancelledError:
            # Only cut() cancels us. Ending quietly keeps asyncio's stream machinery from
            # logging the cancellation as an error in the callback that started us.
            pass
        finally:
            self._tasks.discard(task)
            for writer in (client, upstream):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction until either end closes; then the other direction ends too."""
        try:
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()  # frozen: read, but never delivered
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            writer.transport.abort()
        else:
            writer.close()  # a goodbye is passed on as one, after what was written before it
