"""Sliding-window rate limits: Redis when REDIS_URL is set, in-process for the embedded default.

A limiter answers `hit(key, limit, window_seconds)`: the hit counts if fewer than `limit` hits
of `key` fell in the last `window_seconds` (a true sliding window over the hits themselves, not
fixed buckets); refused hits are not recorded, so a client that keeps retrying too early does
not push its own retry further away.

`rate_limit(...)` turns a limiter (read from `request.app.state.rate_limiter`) into a FastAPI
dependency answering 429 with `Retry-After`. When Redis is unreachable a scope either fails
closed (503: login, triggers) or lets the request through with a warning (reads).
"""

import hashlib
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
from fastapi import HTTPException, Request
from redis.exceptions import RedisError

from api.security import request_user_id

logger = logging.getLogger(__name__)

KEY_PREFIX = "flowpilot:rl:"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float
    """Seconds until a slot frees (0 when allowed)."""
    remaining: int
    """Hits still allowed in the current window after this one."""


class LimiterUnavailable(Exception):
    """The limiter's backing store (Redis) could not answer."""


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_seconds: float) -> Decision: ...

    async def aclose(self) -> None: ...


# KEYS[1]: the sorted set of this key's hits (score: microseconds, Redis server time).
# ARGV: limit, window in microseconds, a unique member for this hit.
# Redis's own clock is used so every API replica measures the same window.
_SLIDING_WINDOW = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local count = redis.call('ZCARD', key)
if count < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000))
  return {1, 0, limit - count - 1}
end
local freeing = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
local retry = tonumber(freeing[2]) + window - now
if retry < 1 then retry = 1 end
return {0, retry, 0}
"""


class RedisRateLimiter:
    """Sliding window in one Redis sorted set per key, updated atomically by a Lua script."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = KEY_PREFIX) -> None:
        self.client = client
        self.prefix = prefix
        self._script = client.register_script(_SLIDING_WINDOW)

    async def hit(self, key: str, limit: int, window_seconds: float) -> Decision:
        if limit < 1:
            return Decision(allowed=False, retry_after=window_seconds, remaining=0)
        window_us = max(1, int(window_seconds * 1_000_000))
        try:
            allowed, retry_us, remaining = await self._script(
                keys=[self.prefix + key], args=[limit, window_us, uuid.uuid4().hex]
            )
        except (RedisError, OSError) as error:
            raise LimiterUnavailable(f"rate limiter store unavailable: {error}") from error
        return Decision(
            allowed=bool(allowed), retry_after=int(retry_us) / 1_000_000, remaining=int(remaining)
        )

    async def aclose(self) -> None:
        await self.client.aclose()


class MemoryRateLimiter:
    """The same sliding window in process memory: one API process, the embedded default."""

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, sweep_every: int = 1000
    ) -> None:
        self._clock = clock
        self._hits: dict[str, tuple[float, deque[float]]] = {}
        self._sweep_every = sweep_every
        self._since_sweep = 0

    async def hit(self, key: str, limit: int, window_seconds: float) -> Decision:
        # No await in here: under asyncio this whole check-and-record is atomic.
        now = self._clock()
        self._maybe_sweep(now)
        if limit < 1:
            return Decision(allowed=False, retry_after=window_seconds, remaining=0)
        hits = self._hits[key][1] if key in self._hits else deque()
        self._hits[key] = (window_seconds, hits)
        while hits and hits[0] <= now - window_seconds:
            hits.popleft()
        if len(hits) < limit:
            hits.append(now)
            return Decision(allowed=True, retry_after=0.0, remaining=limit - len(hits))
        freeing = hits[len(hits) - limit]
        return Decision(
            allowed=False, retry_after=max(freeing + window_seconds - now, 1e-6), remaining=0
        )

    def _maybe_sweep(self, now: float) -> None:
        """Forget keys with no hit left in their window, so memory stays bounded."""
        self._since_sweep += 1
        if self._since_sweep < self._sweep_every:
            return
        self._since_sweep = 0
        stale = [k for k, (w, hits) in self._hits.items() if not hits or hits[-1] <= now - w]
        for key in stale:
            del self._hits[key]

    async def aclose(self) -> None:
        self._hits.clear()


def build_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis-backed when a URL is given (shared by every replica), else in-process."""
    if not redis_url:
        return MemoryRateLimiter()
    client = aioredis.Redis.from_url(
        redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, health_check_interval=30
    )
    return RedisRateLimiter(client)


# --- keys: who is being limited ------------------------------------------------------------


def by_client_ip(request: Request) -> str:
    """The peer address (run uvicorn with --proxy-headers behind a trusted proxy)."""
    return "ip:" + (request.client.host if request.client else "unknown")


def by_user_or_ip(request: Request) -> str:
    """The user of a valid bearer JWT (signature checked, no database), else the client IP.

    API keys and invalid tokens fall back to the IP: keying by an unverified secret would let
    a client dodge the limit by sending a new made-up key on every request.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        user_id = request_user_id(request, token.strip())
        if user_id is not None:
            return f"user:{user_id}"
    return by_client_ip(request)


def by_webhook_token(request: Request) -> str:
    """The `{token}` path parameter, hashed so secrets never appear in Redis keys."""
    token = request.path_params.get("token")
    if not token:
        return by_client_ip(request)
    return "hook:" + hashlib.sha256(str(token).encode()).hexdigest()[:32]


def unsafe_method(request: Request) -> bool:
    """True for anything but GET/HEAD/OPTIONS: writes and triggers fail closed, reads do not."""
    return request.method not in ("GET", "HEAD", "OPTIONS")


def setting(name: str) -> Callable[[Request], int]:
    """A limit read at request time from `app.state.settings.<name>`."""

    def read(request: Request) -> int:
        return int(getattr(request.app.state.settings, name))

    return read


# --- the FastAPI dependency ----------------------------------------------------------------


def rate_limit(
    scope: str,
    limit: int | Callable[[Request], int],
    window_seconds: float,
    *,
    fail_closed: bool | Callable[[Request], bool],
    key: Callable[[Request], str],
) -> Callable[[Request], Awaitable[None]]:
    """A dependency allowing `limit` requests per `key` per sliding `window_seconds`.

    Over the limit: 429 with `Retry-After` (whole seconds, at least 1). Limiter down: 503 if
    `fail_closed` (a bool, or a predicate on the request), else the request goes through.
    """

    async def check_rate_limit(request: Request) -> None:
        limiter: RateLimiter = request.app.state.rate_limiter
        allowed = limit(request) if callable(limit) else limit
        try:
            decision = await limiter.hit(f"{scope}:{key(request)}", allowed, window_seconds)
        except LimiterUnavailable as error:
            closed = fail_closed(request) if callable(fail_closed) else fail_closed
            if closed:
                logger.error("rate limiter unavailable, refusing %s request: %s", scope, error)
                raise HTTPException(
                    status_code=503,
                    detail="rate limiting is temporarily unavailable; try again shortly",
                    headers={"Retry-After": "5"},
                ) from None
            logger.warning("rate limiter unavailable, allowing %s request: %s", scope, error)
            return
        if not decision.allowed:
            seconds = max(1, math.ceil(decision.retry_after))
            raise HTTPException(
                status_code=429,
                detail=f"rate limit exceeded; retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )

    return check_rate_limit


# The three limits of DESIGN §9, read from settings at request time (limits per minute).
login_rate_limit = rate_limit(
    "login",
    setting("rate_limit_login_per_minute"),
    60,
    fail_closed=True,
    key=by_client_ip,
)
api_rate_limit = rate_limit(
    "api",
    setting("rate_limit_api_per_minute"),
    60,
    fail_closed=unsafe_method,
    key=by_user_or_ip,
)
webhook_rate_limit = rate_limit(
    "webhook",
    setting("rate_limit_webhook_per_minute"),
    60,
    fail_closed=True,
    key=by_webhook_token,
)
generate_rate_limit = rate_limit(
    "generate",
    setting("rate_limit_generate_per_minute"),
    60,
    fail_closed=True,
    key=by_user_or_ip,
)
