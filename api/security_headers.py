"""Security headers on every answer: the same ones temporal-docker/nginx.conf sets, so the app
is as well protected when the API serves it directly (`flowpilot dev`, no proxy) as behind
nginx.

The web app loads only its own hashed scripts and stylesheets (no inline `<script>` or
`<style>` in the built index.html; React and React Flow set styles through the DOM, which a
CSP does not govern) and talks only to its own origin, so its policy needs no 'unsafe-inline'.
The API's Swagger UI and ReDoc pages load from a CDN and run an inline script: they get every
header but the policy, as behind nginx.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Keep in step with the add_header lines of temporal-docker/nginx.conf.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
# FastAPI's docs pages (and Swagger UI's OAuth2 redirect page under /docs).
_DOCS_PREFIXES = ("/docs", "/redoc")


def _encoded(headers: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode(), value.encode()) for name, value in headers]


_EVERY = _encoded(SECURITY_HEADERS)
_WITH_POLICY = [*_EVERY, *_encoded((("Content-Security-Policy", CONTENT_SECURITY_POLICY),))]


def _is_docs(path: str) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in _DOCS_PREFIXES)


class SecurityHeaders:
    """ASGI middleware adding the headers to each response's start, leaving alone any a route
    set itself.

    Plain ASGI, not `BaseHTTPMiddleware`: a run's event stream must flow through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = _EVERY if _is_docs(scope["path"]) else _WITH_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(pair for pair in added if pair[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
