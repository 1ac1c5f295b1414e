"""The codec endpoint: Temporal's Web UI and CLI show encrypted payloads through it.

Temporal's remote codec protocol: `POST {endpoint}/decode` and `{endpoint}/encode` take
`{"payloads": [{"metadata": {name: base64}, "data": base64}]}` (protobuf JSON) and answer
the same shape. Here `{endpoint}` is `/api/codec`, for signed-in users of any role. The UI
calls it from its own origin (TEMPORAL_UI_URL), so these two paths answer CORS for that
origin, and only for it.

Who is signed in: a bearer token or API key (the Temporal CLI's `--codec-auth`), or else the
`flowpilot_codec` cookie that logging in to Flowpilot sets (the Web UI, which sends cookies
with TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true but no Flowpilot token). Cross-site requests do
not carry that cookie (SameSite=Lax); a page of another origin on the same site can make the
browser send it, but without CORS it cannot read the answer, and neither path changes
anything (no stored state; encoding seals what the caller sent), so there is nothing for a
forged request to do: no CSRF token is needed.

Decoding opens payloads sealed with this instance's key whether or not PAYLOAD_ENCRYPTION is
on (histories from while it was on stay readable) and returns plaintext payloads as they
are; encoding seals only when PAYLOAD_ENCRYPTION is on.
"""

import base64
import binascii
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Self
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from api.deps import CODEC_COOKIE, CodecUser
from api.errors import ApiError, BadRequest, Unprocessable
from api.ratelimit import by_user_or_ip, rate_limit
from api.security import AccessTokens
from core.codec import PayloadDecryptError, payload_codec
from core.config import Settings
from core.payload_store import PayloadMissing

PREFIX = "/api/codec"
MAX_PAYLOADS = 1000
MAX_BODY_BYTES = 8 * 1024 * 1024
"""Temporal refuses payloads over 2 MB; a request may carry a few, base64 adds a third."""
CODEC_CALLS_PER_API_CALL = 10
"""The UI decodes each history event in its own request: a page of a long run is hundreds."""
ALLOWED_HEADERS = "authorization, content-type, x-namespace"
_BASE64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")


class PayloadTooLarge(ApiError):
    status_code = 413


class CodecPayload(BaseModel):
    """A Temporal Payload in protobuf JSON: bytes are base64 strings."""

    metadata: dict[str, str] = Field(default_factory=dict, description="Values in base64.")
    data: str = Field(default="", description="The payload's bytes in base64.")

    def to_payload(self) -> Payload:
        metadata = {name: _unbase64(value) for name, value in self.metadata.items()}
        return Payload(metadata=metadata, data=_unbase64(self.data))

    @classmethod
    def of(cls, payload: Payload) -> Self:
        metadata = {name: _base64(value) for name, value in payload.metadata.items()}
        return cls(metadata=metadata, data=_base64(payload.data))


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(max_length=MAX_PAYLOADS)

    @classmethod
    def of(cls, payloads: Sequence[Payload]) -> Self:
        return cls(payloads=[CodecPayload.of(payload) for payload in payloads])


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unbase64(text: str) -> bytes:
    """Protobuf JSON's bytes: standard or URL-safe base64, padded or not, nothing else."""
    if not _BASE64.fullmatch(text):
        raise BadRequest("payload metadata and data must be base64")
    unpadded = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(unpadded + "=" * (-len(unpadded) % 4), validate=True)
    except binascii.Error:
        raise BadRequest("payload metadata and data must be base64") from None


def by_codec_user_or_ip(request: Request) -> str:
    """`by_user_or_ip`, keyed by the codec cookie's user when no bearer header is sent (the
    Web UI), so colleagues behind one address do not share a limit."""
    token = request.cookies.get(CODEC_COOKIE)
    if token and "authorization" not in request.headers:
        tokens: AccessTokens = request.app.state.codec_tokens
        user_id = tokens.user_id(token)
        if user_id is not None:
            return f"user:{user_id}"
    return by_user_or_ip(request)


codec_rate_limit = rate_limit(
    "codec",
    lambda request: CODEC_CALLS_PER_API_CALL * request.app.state.settings.rate_limit_api_per_minute,
    60,
    fail_closed=False,
    key=by_codec_user_or_ip,
)

router = APIRouter(
    prefix="/codec",
    tags=["codec"],
    dependencies=[Depends(codec_rate_limit)],
    responses={
        400: {"description": "Not JSON, not base64, or sealed with another instance's key"},
        401: {"description": "Not signed in"},
        413: {"description": f"A body over {MAX_BODY_BYTES} bytes"},
    },
)
_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CodecPayloads"}}},
    }
}


async def get_codec(request: Request) -> PayloadCodec:
    codec: PayloadCodec = request.app.state.payload_codec
    return codec


CodecDep = Annotated[PayloadCodec, Depends(get_codec)]


@router.post("/encode", response_model=CodecPayloads, openapi_extra=_BODY)
async def encode_payloads(request: Request, _user: CodecUser, codec: CodecDep) -> CodecPayloads:
    """Encode payloads as workers do: sealed while PAYLOAD_ENCRYPTION is on, large ones put
    in the payload store (small ones unchanged while encryption is off)."""
    payloads = await _read_payloads(request)
    return CodecPayloads.of(await codec.encode(payloads))


@router.post("/decode", response_model=CodecPayloads, openapi_extra=_BODY)
async def decode_payloads(request: Request, _user: CodecUser, codec: CodecDep) -> CodecPayloads:
    """Open payloads sealed with this instance's key and fetch those kept in the payload
    store; others come back as they are."""
    payloads = await _read_payloads(request)
    try:
        decoded = await codec.decode(payloads)
    except (PayloadDecryptError, PayloadMissing) as error:
        raise BadRequest(str(error)) from None
    return CodecPayloads.of(decoded)


async def _read_payloads(request: Request) -> list[Payload]:
    """The body's payloads: 413 past the size limit, 422 for another shape, 400 for bad
    base64. The body is read only after authentication, and never past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"the body is over {MAX_BODY_BYTES} bytes")
    try:
        checked = CodecPayloads.model_validate_json(bytes(body))
    except ValidationError as error:
        if any(detail["type"] == "json_invalid" for detail in error.errors()):
            raise BadRequest("the body is not JSON") from None
        issues = [
            {"loc": ["body", *detail["loc"]], "msg": detail["msg"], "type": detail["type"]}
            for detail in error.errors()
        ]
        raise Unprocessable(issues) from None
    return [payload.to_payload() for payload in checked.payloads]


def web_origin(url: str) -> str:
    """The origin a browser sends for pages under `url` (scheme, host, non-default port)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{parts.port}" if parts.port is not None and parts.port != default else ""
    return f"{scheme}://{host}{port}"


class CodecCors:
    """CORS on the codec paths for exactly one origin, the Temporal Web UI's.

    Preflights on these paths are answered here, without authentication (browsers send
    none); other origins get no CORS headers at all, whatever CORS_ORIGINS allows elsewhere.
    """

    def __init__(self, app: ASGIApp, origin: str, paths: frozenset[str]) -> None:
        self.app = app
        self.origin = origin
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        allowed = headers.get("origin") == self.origin
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(allowed, send)
            return
        await self.app(scope, receive, self._with_cors(allowed, send))

    async def _preflight(self, allowed: bool, send: Send) -> None:
        if not allowed:
            await _plain(send, 403, b"origin not allowed", {"vary": "Origin"})
            return
        # Credentials are allowed for the UI's origin alone: its "include credentials"
        # option sends the codec cookie, and only that origin may read what it opens.
        cors = {
            "access-control-allow-origin": self.origin,
            "access-control-allow-credentials": "true",
            "vary": "Origin",
            "access-control-allow-methods": "POST",
            "access-control-allow-headers": ALLOWED_HEADERS,
            "access-control-max-age": "600",
        }
        await _plain(send, 204, b"", cors)

    def _with_cors(self, allowed: bool, send: Send) -> Callable[[Message], Awaitable[None]]:
        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name in {key for key in headers if key.startswith("access-control-")}:
                    del headers[name]
                if allowed:
                    headers["access-control-allow-origin"] = self.origin
                    headers["access-control-allow-credentials"] = "true"
                headers.add_vary_header("Origin")
            await send(message)

        return send_with_cors


async def _plain(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(name.encode(), value.encode()) for name, value in headers.items()]
    raw += [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, settings: Settings) -> None:
    """Serve /api/codec/{encode,decode} with CORS for the Temporal Web UI's origin."""
    app.state.payload_codec = payload_codec(settings)
    paths = frozenset({f"{PREFIX}/encode", f"{PREFIX}/decode"})
    app.add_middleware(CodecCors, origin=web_origin(settings.temporal_ui_url), paths=paths)
    app.include_router(router, prefix="/api")
