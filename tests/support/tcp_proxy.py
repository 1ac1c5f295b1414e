"""A TCP proxy on 127.0.0.1 that a test can take dark and bring back, on the same port.

    with TcpProxy("127.0.0.1", 5432) as proxy:   # processes connect to proxy.port
        proxy.stop()    # new connections are refused, open ones are cut
        proxy.start()   # accepting again on the same port

From the client's side a stopped proxy is a stopped server: connecting is refused and every
connection it had is reset. It runs its own asyncio loop on a daemon thread, so it keeps
relaying while the test's loop waits, and `start`/`stop` may be called from any thread.
"""

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

T = TypeVar("T")
_CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Self:
        self._thread.start()
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def start(self) -> None:
        """Listen (again) on the proxy's port; the first start picks a free one."""
        self._call(self._listen())

    def stop(self) -> None:
        """Stop listening and reset every open connection, both ways."""
        self._call(self._go_dark())

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _go_dark(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        connections = list(self._connections)
        for connection in connections:
            connection.cancel()
        await asyncio.gather(*connections, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted just before the proxy went dark
            _reset(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        upstream: asyncio.StreamWriter | None = None
        pipes: list[asyncio.Task[None]] = []
        try:
            target_reader, upstream = await asyncio.open_connection(*self.target)
            pipes = [
                asyncio.create_task(_pipe(reader, upstream)),
                asyncio.create_task(_pipe(target_reader, writer)),
            ]
            await asyncio.gather(*pipes)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            for pipe in pipes:
                pipe.cancel()
            for side in (writer, upstream):
                if side is not None:
                    _reset(side)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(_CHUNK):
        sink.write(data)
        await sink.drain()
    if sink.can_write_eof():
        sink.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close at once with a TCP reset: the peer's next read or write fails."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
