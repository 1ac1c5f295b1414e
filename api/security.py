"""Passwords (argon2), access tokens (JWT, HS256 only) and API keys."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

ALGORITHM = "HS256"
API_KEY_PREFIX = "fp_"
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


def create_access_token(user_id: uuid.UUID, key: bytes, lifetime: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + lifetime, "typ": "access"}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def request_user_id(request: Request, token: str) -> uuid.UUID | None:
    """`read_access_token` for this request's bearer token, decoded once per request: the
    rate limit and the authentication both need it."""
    state = request.state
    cached: tuple[str, uuid.UUID | None] | None = getattr(state, "access_token", None)
    if cached is None or cached[0] != token:
        cached = (token, read_access_token(token, request.app.state.jwt_key))
        state.access_token = cached
    return cached[1]


def read_access_token(token: str, key: bytes) -> uuid.UUID | None:
    """The user id in a valid, unexpired token signed with `key`; None for anything else."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "iat"]}
        )
        if claims.get("typ") != "access":
            return None
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_hash(key: str) -> str:
    """API keys are long random strings, so a fast hash is enough and lookups stay indexed."""
    return hashlib.sha256(key.encode()).hexdigest()
