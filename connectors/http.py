"""A guarded HTTP client for the `http.request` node.

Every hop (the first request and each redirect) is vetted by `TargetGuard` and sent to
the address that was checked, never re-resolved. Failures become `ConnectorError`s that
say whether a retry can help.
"""

import json
import ssl
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from connectors.errors import ConnectorError, caused_by, one_line
from connectors.netguard import Target, TargetGuard, parse_url

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
SNIPPET_CHARS = 200

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRYABLE_STATUSES = frozenset({408, 429})
_CROSS_ORIGIN_DROPPED = frozenset({"authorization", "cookie", "proxy-authorization", "host"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "transfer-encoding"})
_RETRYABLE_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
    OSError,
)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    """Lower-cased names; repeated headers joined with `", "`."""
    body: Any
    """Parsed JSON when the response says it is JSON, else text."""


@dataclass(frozen=True)
class _Hop:
    """One request of a redirect chain; `url` keeps the hostname, not the pinned address."""

    method: str
    url: httpx.URL
    headers: dict[str, str]
    content: bytes | None
    secret_headers: frozenset[str] = frozenset()
    """Lower-cased names of headers that must not follow a redirect to another origin."""

    def redirected(self, location: httpx.URL, status: int) -> "_Hop":
        """The next hop, following the same rules as browsers and httpx."""
        method = self.method
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method = "GET"
        headers = dict(self.headers)
        if _origin(location) != _origin(self.url):
            headers = _without(headers, _CROSS_ORIGIN_DROPPED | self.secret_headers)
        content = self.content
        if method != self.method:
            headers, content = _without(headers, _BODY_HEADERS), None
        return replace(self, method=method, url=location, headers=headers, content=content)


class HttpClient:
    """Sends user-described HTTP requests to public (or allowlisted) targets only."""

    def __init__(
        self,
        *,
        allowed_hosts: Collection[str] = (),
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """`client` is used as is when given; otherwise one is created and owned.

        An owned client ignores proxy environment variables (`trust_env=False`): a proxy
        would resolve the host itself and defeat the guard. It also keeps no cookies, so
        one run's session cookies never ride along on another run's requests.
        """
        self._guard = TargetGuard(allowed_hosts)
        self._max_response_bytes = max_response_bytes
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT, trust_env=False, cookies=_cookieless_jar()
        )

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> "HttpClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def request(
        self,
        *,
        method: str = "GET",
        url: str,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str | int | float | bool] | None = None,
        json_body: Any = None,
        body: str | bytes | None = None,
        expected_status: Collection[int] | None = None,
        follow_redirects: bool = True,
        idempotency_key: str | None = None,
        secret_headers: Collection[str] = (),
    ) -> HttpResponse:
        """Send the request, following up to `MAX_REDIRECTS` redirects when asked.

        Success is a status in `expected_status` when given, else any status below 400
        (a 3xx only gets here when it was deliberately not followed, or is a 304).
        `secret_headers` (e.g. a credential's API-key header) are dropped, like
        `Authorization`, when a redirect leads to another origin.
        """
        hop = _first_hop(method, url, headers, query, json_body, body, idempotency_key)
        hop = replace(hop, secret_headers=frozenset(name.lower() for name in secret_headers))
        for _ in range(MAX_REDIRECTS + 1):
            outcome = await self._exchange(hop, expected_status, follow_redirects)
            if isinstance(outcome, HttpResponse):
                return outcome
            hop = outcome
        raise ConnectorError(
            f"{hop.method} {safe_url(hop.url)}: more than {MAX_REDIRECTS} redirects",
            retryable=False,
            kind="TooManyRedirects",
        )

    async def _exchange(
        self, hop: _Hop, expected_status: Collection[int] | None, follow_redirects: bool
    ) -> HttpResponse | _Hop:
        """Send one hop; return the final response, or the next hop of a redirect."""
        try:
            async with self._send(hop) as response:
                location = _redirect_location(hop, response) if follow_redirects else None
                if location is not None:
                    return hop.redirected(location, response.status_code)
                content = await self._read_capped(hop, response)
        except _RETRYABLE_ERRORS as exc:
            if caused_by(exc, ssl.SSLCertVerificationError):
                raise _transport_error(hop, exc, kind="TlsCertificateError") from exc
            raise _transport_error(hop, exc, kind="HttpNetworkError", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise _transport_error(hop, exc, kind="HttpRequestError") from exc
        return _result(hop, response, content, expected_status)

    @asynccontextmanager
    async def _send(self, hop: _Hop) -> AsyncIterator[httpx.Response]:
        target = await self._guard.resolve(hop.url)
        response = await self._send_pinned(hop, target)
        try:
            yield response
        finally:
            await response.aclose()

    async def _send_pinned(self, hop: _Hop, target: Target) -> httpx.Response:
        """Try each checked address in resolver order, like the OS would."""
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:
            request = self._client.build_request(
                hop.method,
                target.pinned_url(address),
                headers=target.pinned_headers(hop.headers),
                content=hop.content,
                extensions=target.pinned_extensions(),
            )
            try:
                return await self._client.send(request, stream=True, follow_redirects=False)
            except httpx.ConnectError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    async def _read_capped(self, hop: _Hop, response: httpx.Response) -> bytes:
        limit = self._max_response_bytes
        declared = response.headers.get("content-length", "")
        if hop.method != "HEAD" and declared.isdigit() and int(declared) > limit:
            raise _too_large(hop, limit)
        content = bytearray()
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) > limit:
                raise _too_large(hop, limit)
        return bytes(content)


def _first_hop(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    query: Mapping[str, str | int | float | bool] | None,
    json_body: Any,
    body: str | bytes | None,
    idempotency_key: str | None,
) -> _Hop:
    merged = dict(headers or {})
    names = {name.lower() for name in merged}
    if idempotency_key and "idempotency-key" not in names:
        merged["Idempotency-Key"] = idempotency_key
    parsed = parse_url(url)
    if query:
        parsed = parsed.copy_merge_params(dict(query))
    hop = _Hop(method.upper(), parsed, merged, None)
    if json_body is not None and body is not None:
        raise ConnectorError(
            f"{hop.method} {safe_url(parsed)}: set either a JSON body or a raw body, not both",
            retryable=False,
            kind="InvalidRequest",
        )
    if json_body is not None:
        content = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
        return replace(hop, content=content, headers=_with_default_type(merged, "application/json"))
    if body is not None:
        content = body.encode() if isinstance(body, str) else body
        return replace(hop, content=content, headers=_with_default_type(merged, "text/plain"))
    return hop


def _with_default_type(headers: dict[str, str], content_type: str) -> dict[str, str]:
    if any(name.lower() == "content-type" for name in headers):
        return headers
    return {**headers, "Content-Type": content_type}


def _redirect_location(hop: _Hop, response: httpx.Response) -> httpx.URL | None:
    location = response.headers.get("location")
    if response.status_code not in _REDIRECT_STATUSES or not location:
        return None
    try:
        return hop.url.join(location)
    except httpx.InvalidURL as exc:
        raise ConnectorError(
            f"redirect to an invalid URL: {exc}", retryable=False, kind="TargetRefused"
        ) from exc


def _result(
    hop: _Hop,
    response: httpx.Response,
    content: bytes,
    expected_status: Collection[int] | None,
) -> HttpResponse:
    status = response.status_code
    ok = status in expected_status if expected_status else 200 <= status < 400
    if not ok:
        raise _status_error(hop, response, content)
    headers = dict(response.headers.items())
    return HttpResponse(status=status, headers=headers, body=_decode_body(response, content))


def _status_error(hop: _Hop, response: httpx.Response, content: bytes) -> ConnectorError:
    status = response.status_code
    retryable = status >= 500 or status in _RETRYABLE_STATUSES
    snippet = _snippet(_decode_text(response, content))
    message = f"{hop.method} {safe_url(hop.url)} returned {status} {response.reason_phrase}"
    return ConnectorError(
        f"{message}: {snippet}" if snippet else message,
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("retry-after")) if retryable else None,
        kind="HttpStatusError",
    )


def _transport_error(
    hop: _Hop, exc: Exception, *, kind: str, retryable: bool = False
) -> ConnectorError:
    detail = _snippet(str(exc)) or "no detail"
    return ConnectorError(
        f"{hop.method} {safe_url(hop.url)} failed: {type(exc).__name__}: {detail}",
        retryable=retryable,
        kind=kind,
    )


def _cookieless_jar() -> CookieJar:
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _too_large(hop: _Hop, limit: int) -> ConnectorError:
    return ConnectorError(
        f"{hop.method} {safe_url(hop.url)}: response exceeds the {limit}-byte limit",
        retryable=False,
        kind="ResponseTooLarge",
    )


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _decode_body(response: httpx.Response, content: bytes) -> Any:
    if _is_json(response):
        if not content.strip():
            return None
        try:
            return json.loads(content)
        except ValueError:
            pass
    return _decode_text(response, content)


def _decode_text(response: httpx.Response, content: bytes) -> str:
    return content.decode(response.encoding or "utf-8", errors="replace")


def _snippet(text: str) -> str:
    return one_line(text, SNIPPET_CHARS)


def safe_url(url: httpx.URL) -> str:
    """The URL without credentials, query string or fragment, fit for messages and logs."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}{url.path}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP-date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now or datetime.now(UTC))
    return seconds if 0 <= seconds < float("inf") else None


def _seconds_until(http_date: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _without(headers: Mapping[str, str], names: Collection[str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in names}
