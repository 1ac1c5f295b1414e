"""Request ids: every request has one, its log lines carry it, and its response returns it."""

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import bound

REQUEST_ID_HEADER = "X-Request-ID"
_HEADER_KEY = REQUEST_ID_HEADER.lower().encode()
# What a proxy or a caller may choose: a UUID, a hex or base64url token, a dotted trace id.
# Anything else (too long, spaces, quotes, control characters) is replaced, so a caller
# cannot forge log lines or fill them with junk.
_SANE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    for key, value in scope["headers"]:
        if key == _HEADER_KEY:
            if _SANE.fullmatch(value):
                return value.decode()
            break
    return uuid.uuid4().hex


class RequestContext:
    """ASGI middleware: binds the request id for the request's log lines (uvicorn's access
    line included, which is written when the response starts) and sends it back in the
    `X-Request-ID` header.

    Plain ASGI, not `BaseHTTPMiddleware`, which would buffer nothing but run the app in
    another task: event streams must flow through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        header = (_HEADER_KEY, request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [pair for pair in message.get("headers", []) if pair[0] != _HEADER_KEY]
                message["headers"] = [*headers, header]
            await send(message)

        with bound(request_id=request_id):
            await self.app(scope, receive, send_with_id)
