"""Passwords (argon2), access tokens (JWT, HS256 only) and API keys."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

ALGORITHM = "HS256"
API_KEY_PREFIX = "fp_"
CODEC_SCOPE = "codec"
"""The scope of the codec cookie's token: /api/codec takes it, nothing else does."""
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps login timing the same either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def create_access_token(
    user_id: uuid.UUID, key: bytes, lifetime: timedelta, *, scope: str | None = None
) -> str:
    """A token for the whole API, or, with a `scope`, for that one use only (see
    `read_access_token`)."""
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + lifetime,
        "typ": "access",
    }
    if scope is not None:
        claims["scope"] = scope
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def read_access_token(
    token: str, key: bytes, *, scope: str | None = None
) -> tuple[uuid.UUID, float] | None:
    """The user id and expiry (Unix time) of a valid, unexpired token signed with `key` whose
    scope is exactly `scope`; None for anything else.

    Scoped and unscoped tokens share the key, so the exact match is what keeps them apart: a
    reader of whole-API tokens refuses a scoped one, and a scoped reader an unscoped one."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "iat"]}
        )
        if claims.get("typ") != "access" or claims.get("scope") != scope:
            return None
        return uuid.UUID(claims["sub"]), float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


class AccessTokens:
    """Issues and checks the API's access tokens, remembering the ones that checked out.

    Every request presents its token twice (the rate limit and the authentication) and a
    client presents the same one for its whole lifetime; checking a signature and claims is a
    tenth of a request's CPU. A token is immutable, so once verified it stays valid until its
    own expiry, which is checked on every use. Tokens that fail are not remembered.

    One instance serves one `scope` (None: the whole API), so a token remembered by one is
    never taken by another.
    """

    def __init__(
        self,
        key: bytes,
        *,
        scope: str | None = None,
        clock: Callable[[], float] = time.time,
        remember: int = 10_000,
    ) -> None:
        self.key = key
        self.scope = scope
        self._clock = clock
        self._remember = remember
        self._verified: dict[str, tuple[uuid.UUID, float]] = {}

    def issue(self, user_id: uuid.UUID, lifetime: timedelta) -> str:
        return create_access_token(user_id, self.key, lifetime, scope=self.scope)

    def user_id(self, token: str) -> uuid.UUID | None:
        verified = self._verified.get(token)
        if verified is None:
            verified = read_access_token(token, self.key, scope=self.scope)
            if verified is None:
                return None
            if len(self._verified) >= self._remember:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = verified
        user_id, expires_at = verified
        if self._clock() >= expires_at:
            del self._verified[token]
            return None
        return user_id


def request_user_id(request: Request, token: str) -> uuid.UUID | None:
    """The user of a valid access token, checked with this app's key."""
    tokens: AccessTokens = request.app.state.access_tokens
    return tokens.user_id(token)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_hash(key: str) -> str:
    """API keys are long random strings, so a fast hash is enough and lookups stay indexed."""
    return hashlib.sha256(key.encode()).hexdigest()
