"""A real, scriptable HTTP server on 127.0.0.1 for tests.

    local_http.route("/items", responses=[(500, "boom"), (200, {"ok": True})], delay=0.2)
    ... call local_http.url("/items") ...
    assert local_http.hits("/items") == 2
    first = local_http.requests("/items")[0]   # method, headers, body, started, finished

Each path answers its scripted responses in order, repeating the last one. Requests are
served on their own threads, so a slow route does not hold up the others, and each
request records server-side `time.monotonic()` stamps to prove that calls overlapped.
Unscripted paths answer 404.
"""

import json
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

Reply = tuple[int] | tuple[int, Any] | tuple[int, Any, dict[str, str]]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    started: float
    """When the request arrived."""
    finished: float | None = None
    """When the reply started to go out, after the route's delay."""

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class _Route:
    responses: list[Reply]
    delay: float = 0.0
    hits: int = 0


@dataclass
class _State:
    routes: dict[str, _Route] = field(default_factory=dict)
    requests: dict[str, list[RecordedRequest]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: str) -> tuple[Reply, float]:
        with self.lock:
            route = self.routes.get(path)
            if route is None:
                return (404, {"error": f"no route for {path}"}), 0.0
            reply = route.responses[min(route.hits, len(route.responses) - 1)]
            route.hits += 1
            return reply, route.delay

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self.requests.setdefault(request.path, []).append(request)


def _encode(body: Any) -> tuple[bytes, str]:
    if body is None:
        return b"", "text/plain; charset=utf-8"
    if isinstance(body, bytes):
        return body, "application/octet-stream"
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        started = time.monotonic()
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
            started=started,
        )
        self.state.record(recorded)
        reply, delay = self.state.take(parts.path)
        if delay:
            time.sleep(delay)
        recorded.finished = time.monotonic()
        self._reply(*reply)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            return self._read_chunked()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        self.rfile.readline()
        return bytes(body)

    def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        content, content_type = _encode(body)
        extra = {name.lower(): value for name, value in (headers or {}).items()}
        chunked = extra.get("transfer-encoding", "").lower() == "chunked"
        self.send_response(status)
        self.send_header("Content-Type", extra.pop("content-type", content_type))
        if not chunked:
            self.send_header("Content-Length", str(len(content)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self._write(content, chunked)

    def _write(self, content: bytes, chunked: bool) -> None:
        if not chunked:
            self.wfile.write(content)
            return
        for start in range(0, len(content), 64 * 1024):
            piece = content[start : start + 64 * 1024]
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up early (as the size-cap tests do)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LocalHttpServer:
    """A threaded HTTP server on 127.0.0.1 with an ephemeral port."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """With `ssl_context` (a server-side context), the server speaks HTTPS."""
        self._state = _State()
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self.scheme = "http"
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def start(self) -> "LocalHttpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "LocalHttpServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def route(self, path: str, responses: Sequence[Reply], *, delay: float = 0.0) -> None:
        """Script `path`: one reply `(status, body, headers)` per hit, the last repeating.

        A dict or list body is sent as JSON, a str as text, bytes as octet-stream; a
        `Transfer-Encoding: chunked` header sends the body chunked, without a length.
        """
        if not responses:
            raise ValueError("a route needs at least one response")
        with self._state.lock:
            self._state.routes[path] = _Route(list(responses), delay)

    def hits(self, path: str) -> int:
        with self._state.lock:
            return len(self._state.requests.get(path, []))

    def requests(self, path: str) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests.get(path, []))

    def reset(self) -> None:
        with self._state.lock:
            self._state.routes.clear()
            self._state.requests.clear()


@pytest.fixture(scope="session")
def local_http_server() -> Iterator[LocalHttpServer]:
    with LocalHttpServer() as server:
        yield server


@pytest.fixture
def local_http(local_http_server: LocalHttpServer) -> LocalHttpServer:
    """The session's server, with no routes and no recorded requests."""
    local_http_server.reset()
    return local_http_server
