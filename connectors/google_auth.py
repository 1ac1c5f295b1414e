"""Google OAuth2 access tokens for service accounts (the JWT-bearer grant, RFC 7523).

A service account proves itself with a short JWT signed (RS256) by its private key and
trades it at the token endpoint for an access token, which is then cached until shortly
before it expires. The cache is keyed by the account, the scopes *and a fingerprint of the
key and token endpoint*: two credentials that merely claim the same `client_email` never
share a token, so nobody gets another owner's token without holding its private key.
"""

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.errors import ConnectorError, one_line
from connectors.http import parse_retry_after

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 3600
"""The longest lifetime Google accepts for the signed assertion."""
REFRESH_MARGIN_SECONDS = 300.0
"""A cached token is replaced this long before it expires, so no call starts with a token
that dies in flight (and clock skew between us and Google does not bite)."""
_SNIPPET_CHARS = 200


class ServiceAccountKey(BaseModel):
    """The fields of a service account's JSON key file that the grant needs."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    client_email: str = Field(min_length=3, max_length=320)
    private_key: SecretStr = Field(min_length=1)
    private_key_id: str | None = None
    token_uri: str = GOOGLE_TOKEN_URI

    @classmethod
    def parse(cls, key_file: str | Mapping[str, Any]) -> "ServiceAccountKey":
        """Read a key file (JSON text or an already parsed object); errors name fields only."""
        try:
            raw = json.loads(key_file) if isinstance(key_file, str) else dict(key_file)
        except ValueError:
            raise _key_error("the service account key is not valid JSON") from None
        if not isinstance(raw, dict):
            raise _key_error("the service account key must be a JSON object")
        try:
            return cls.model_validate(raw)
        except ValidationError as error:
            fields = ", ".join(
                ".".join(map(str, problem["loc"])) for problem in error.errors(include_input=False)
            )
            raise _key_error(
                f"the service account key has missing or invalid fields: {fields}"
            ) from None

    def fingerprint(self, token_uri: str) -> str:
        """Identifies this exact key at this token endpoint without revealing it."""
        material = f"{token_uri}\n{self.private_key.get_secret_value()}".encode()
        return hashlib.sha256(material).hexdigest()


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float
    """On the cache's clock."""


class ServiceAccountTokens:
    """Obtains and caches service-account access tokens; one instance per worker.

    `clock` is monotonic seconds for expiry bookkeeping; the JWT itself carries wall-clock
    `iat`/`exp` from `wall_clock`.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._clock = clock
        self._wall_clock = wall_clock
        self._cache: dict[tuple[str, str, str], AccessToken] = {}
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}

    async def token(
        self, key: ServiceAccountKey, scopes: Sequence[str], token_uri: str | None = None
    ) -> AccessToken:
        """A valid access token for `key` and `scopes`, from the cache when it is fresh."""
        uri = token_uri or key.token_uri
        cache_key = _cache_key(key, scopes, uri)
        async with self._locks.setdefault(cache_key, asyncio.Lock()):
            cached = self._cache.get(cache_key)
            if cached is not None and cached.expires_at - REFRESH_MARGIN_SECONDS > self._clock():
                return cached
            fresh = await self._exchange(key, scopes, uri)
            self._cache[cache_key] = fresh
            return fresh

    def invalidate(
        self,
        key: ServiceAccountKey,
        scopes: Sequence[str],
        token: AccessToken,
        token_uri: str | None = None,
    ) -> None:
        """Forget `token` (the service refused it); a token cached since then is kept."""
        cache_key = _cache_key(key, scopes, token_uri or key.token_uri)
        if self._cache.get(cache_key) == token:
            del self._cache[cache_key]

    async def _exchange(
        self, key: ServiceAccountKey, scopes: Sequence[str], token_uri: str
    ) -> AccessToken:
        assertion = self._assertion(key, scopes, token_uri)
        asked_at = self._clock()
        form = {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        try:
            response = await self._http.post(token_uri, data=form)
        except httpx.HTTPError as error:
            raise ConnectorError(
                f"Google token endpoint unreachable: {type(error).__name__}: "
                f"{_snippet(str(error)) or 'no detail'}",
                retryable=True,
                kind="GoogleTokenNetworkError",
            ) from error
        if response.status_code != 200:
            raise _token_refused(key, response)
        return _token_from(response, asked_at)

    def _assertion(self, key: ServiceAccountKey, scopes: Sequence[str], token_uri: str) -> str:
        issued_at = int(self._wall_clock())
        claims = {
            "iss": key.client_email,
            "scope": " ".join(scopes),
            "aud": token_uri,
            "iat": issued_at,
            "exp": issued_at + ASSERTION_LIFETIME_SECONDS,
        }
        headers = {"kid": key.private_key_id} if key.private_key_id else None
        try:
            return jwt.encode(
                claims, key.private_key.get_secret_value(), algorithm="RS256", headers=headers
            )
        except (ValueError, TypeError, jwt.PyJWTError):
            # The library's message may quote the key material: say only what is wrong.
            raise _key_error(
                "the service account key's private_key is not a PEM-encoded RSA private key"
            ) from None


def _cache_key(
    key: ServiceAccountKey, scopes: Sequence[str], token_uri: str
) -> tuple[str, str, str]:
    return key.client_email, " ".join(sorted(scopes)), key.fingerprint(token_uri)


def _token_from(response: httpx.Response, asked_at: float) -> AccessToken:
    try:
        body = response.json()
        value = body["access_token"]
        expires_in = float(body.get("expires_in", 3600))
    except (ValueError, KeyError, TypeError):
        raise ConnectorError(
            "Google token endpoint answered 200 without an access_token",
            retryable=True,
            kind="GoogleTokenError",
        ) from None
    if not isinstance(value, str) or not value:
        raise ConnectorError(
            "Google token endpoint answered an empty access_token",
            retryable=True,
            kind="GoogleTokenError",
        )
    return AccessToken(value=value, expires_at=asked_at + expires_in)


def _token_refused(key: ServiceAccountKey, response: httpx.Response) -> ConnectorError:
    """Google answers `{"error": "invalid_grant", "error_description": "…"}` on refusal."""
    status = response.status_code
    retryable = status == 429 or status >= 500
    detail = _oauth_error(response)
    return ConnectorError(
        f"Google token endpoint refused service account {key.client_email} ({status}): {detail}",
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("retry-after")) if retryable else None,
        kind="GoogleTokenError",
    )


def _oauth_error(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return _snippet(response.text) or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return f"{body['error']}: {description}" if description else body["error"]
    return _snippet(response.text) or response.reason_phrase


def _key_error(message: str) -> ConnectorError:
    return ConnectorError(message, retryable=False, kind="InvalidServiceAccountKey")


def _snippet(text: str) -> str:
    return one_line(text, _SNIPPET_CHARS)
