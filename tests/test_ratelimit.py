"""Sliding-window rate limits on the real Redis, the in-process limiter, and the HTTP answers."""

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import APIRouter, Depends, FastAPI

from api.main import create_app
from api.ratelimit import (
    KEY_PREFIX,
    LimiterUnavailable,
    MemoryRateLimiter,
    RedisRateLimiter,
    api_rate_limit,
    build_rate_limiter,
    by_client_ip,
    login_rate_limit,
    rate_limit,
    unsafe_method,
    webhook_rate_limit,
)
from api.routes import auth
from api.schemas import TokenResponse
from core.config import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
DOWN_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys (and only those) are deleted afterwards."""
    prefix = f"{KEY_PREFIX}test-{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_client() -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis_client: aioredis.Redis, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_client, prefix=prefix)


def down_limiter() -> RedisRateLimiter:
    client = aioredis.Redis.from_url(DOWN_URL, socket_connect_timeout=0.5, socket_timeout=0.5)
    return RedisRateLimiter(client)


# --- Redis limiter ---------------------------------------------------------------------------


async def test_allows_the_limit_then_refuses_until_the_oldest_hit_leaves_the_window(
    limiter: RedisRateLimiter, redis_client: aioredis.Redis, prefix: str
) -> None:
    started = time.monotonic()
    decisions = [await limiter.hit("user:a", 3, 10) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    refused = await limiter.hit("user:a", 3, 10)
    elapsed = time.monotonic() - started
    assert not refused.allowed
    assert refused.remaining == 0
    assert 10 - elapsed - 0.05 <= refused.retry_after <= 10
    # Refused hits are not recorded, the key expires with its window.
    assert await redis_client.zcard(prefix + "user:a") == 3
    assert 0 < await redis_client.pttl(prefix + "user:a") <= 10_000


async def test_slots_free_as_the_window_slides(limiter: RedisRateLimiter) -> None:
    assert (await limiter.hit("k", 2, 1.0)).allowed
    await asyncio.sleep(0.5)
    assert (await limiter.hit("k", 2, 1.0)).allowed
    refused = await limiter.hit("k", 2, 1.0)
    assert not refused.allowed
    assert 0.3 <= refused.retry_after <= 0.55
    await asyncio.sleep(refused.retry_after + 0.05)
    # The first hit left the window, the second has not: one slot, not a fresh bucket.
    assert (await limiter.hit("k", 2, 1.0)).allowed
    again = await limiter.hit("k", 2, 1.0)
    assert not again.allowed
    assert 0 < again.retry_after <= 0.5


async def test_two_replicas_sharing_redis_share_the_budget(prefix: str) -> None:
    first = RedisRateLimiter(aioredis.Redis.from_url(REDIS_URL), prefix=prefix)
    second = RedisRateLimiter(aioredis.Redis.from_url(REDIS_URL), prefix=prefix)
    try:
        allowed = [
            (await replica.hit("ip:10.0.0.1", 4, 30)).allowed
            for replica in (first, second, first, second, first, second)
        ]
    finally:
        await first.aclose()
        await second.aclose()
    assert allowed == [True, True, True, True, False, False]


async def test_keys_are_independent(limiter: RedisRateLimiter) -> None:
    for _ in range(2):
        assert (await limiter.hit("user:a", 2, 30)).allowed
    assert not (await limiter.hit("user:a", 2, 30)).allowed
    assert (await limiter.hit("user:b", 2, 30)).allowed
    assert (await limiter.hit("user:b", 2, 30)).remaining == 0


async def test_concurrent_hits_from_two_replicas_allow_exactly_the_limit(
    prefix: str, redis_client: aioredis.Redis
) -> None:
    replicas = [RedisRateLimiter(aioredis.Redis.from_url(REDIS_URL), prefix=prefix) for _ in "ab"]
    try:
        decisions = await asyncio.gather(*(replicas[i % 2].hit("burst", 10, 30) for i in range(50)))
    finally:
        for replica in replicas:
            await replica.aclose()
    assert sum(d.allowed for d in decisions) == 10
    assert await redis_client.zcard(prefix + "burst") == 10


async def test_a_lowered_limit_waits_for_enough_hits_to_leave(limiter: RedisRateLimiter) -> None:
    for _ in range(5):
        assert (await limiter.hit("k", 5, 30)).allowed
    assert not (await limiter.hit("k", 2, 30)).allowed


async def test_redis_down_raises_limiter_unavailable() -> None:
    down = down_limiter()
    try:
        with pytest.raises(LimiterUnavailable):
            await down.hit("k", 5, 60)
    finally:
        await down.aclose()


async def test_build_rate_limiter_picks_redis_or_memory() -> None:
    assert isinstance(build_rate_limiter(None), MemoryRateLimiter)
    assert isinstance(build_rate_limiter(""), MemoryRateLimiter)
    built = build_rate_limiter(REDIS_URL)
    assert isinstance(built, RedisRateLimiter)
    assert built.prefix == "flowpilot:rl:"
    await built.aclose()


# --- in-process limiter ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_has_the_same_sliding_window() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    assert [(await limiter.hit("k", 2, 10)).remaining for _ in range(2)] == [1, 0]
    clock.now += 4
    refused = await limiter.hit("k", 2, 10)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(6)
    assert (await limiter.hit("other", 2, 10)).allowed
    clock.now += 6  # exactly one window after the first two hits
    assert (await limiter.hit("k", 2, 10)).allowed
    assert (await limiter.hit("k", 2, 10)).allowed
    third = await limiter.hit("k", 2, 10)
    assert not third.allowed
    assert third.retry_after == pytest.approx(10)


async def test_memory_limiter_concurrency_and_sweep() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock, sweep_every=3)
    decisions = await asyncio.gather(*(limiter.hit("burst", 10, 1) for _ in range(50)))
    assert sum(d.allowed for d in decisions) == 10
    clock.now += 2
    for name in "abc":
        await limiter.hit(name, 1, 1)
    assert "burst" not in limiter._hits


# --- the HTTP dependency, on the real app ----------------------------------------------------


def mount_test_routes(app: FastAPI) -> None:
    # A copy of the real login route, with the login limit on it.
    app.add_api_route(
        "/api/auth/limited-login",
        auth.login,
        methods=["POST"],
        response_model=TokenResponse,
        dependencies=[Depends(login_rate_limit)],
    )
    limited = APIRouter(prefix="/api/limited", dependencies=[Depends(api_rate_limit)])

    @limited.get("/things")
    async def read_things() -> dict[str, bool]:
        return {"ok": True}

    @limited.post("/things")
    async def trigger_thing() -> dict[str, bool]:
        return {"ok": True}

    plain = APIRouter(prefix="/api/plain")

    @plain.post("/hooks/{token}", dependencies=[Depends(webhook_rate_limit)])
    async def hook(token: str) -> dict[str, bool]:
        return {"ok": True}

    fixed = rate_limit("fixed", 2, 60, fail_closed=unsafe_method, key=by_client_ip)

    @plain.get("/fixed", dependencies=[Depends(fixed)])
    async def fixed_limit() -> dict[str, bool]:
        return {"ok": True}

    app.include_router(limited)
    app.include_router(plain)


async def make_client(
    tmp_path: Path, limiter: RedisRateLimiter | MemoryRateLimiter
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        data_dir=tmp_path,
        rate_limit_login_per_minute=3,
        rate_limit_api_per_minute=2,
        rate_limit_webhook_per_minute=2,
    )
    app = create_app(settings)
    app.state.rate_limiter = limiter
    mount_test_routes(app)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def http(tmp_path: Path, limiter: RedisRateLimiter) -> AsyncIterator[httpx.AsyncClient]:
    async for client in make_client(tmp_path, limiter):
        yield client


@pytest.fixture
async def http_down(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    down = down_limiter()
    try:
        async for client in make_client(tmp_path, down):
            yield client
    finally:
        await down.aclose()


def assert_429(answer: httpx.Response, window: int) -> None:
    assert answer.status_code == 429, answer.text
    seconds = int(answer.headers["Retry-After"])
    assert 1 <= seconds <= window
    assert answer.json() == {"detail": f"rate limit exceeded; retry in {seconds} s"}
    assert re.fullmatch(r"\d+", answer.headers["Retry-After"])


async def register(http: httpx.AsyncClient, email: str) -> None:
    answer = await http.post(
        "/api/auth/register", json={"email": email, "password": "correct horse battery"}
    )
    assert answer.status_code == 201, answer.text


async def test_login_is_limited_per_ip_even_with_the_right_password(
    http: httpx.AsyncClient,
) -> None:
    await register(http, "ana@example.com")
    wrong = {"email": "ana@example.com", "password": "not the password"}
    for _ in range(3):
        assert (await http.post("/api/auth/limited-login", json=wrong)).status_code == 401
    right = {"email": "ana@example.com", "password": "correct horse battery"}
    assert_429(await http.post("/api/auth/limited-login", json=right), 60)


async def test_api_limit_is_per_user_and_falls_back_to_the_ip(http: httpx.AsyncClient) -> None:
    tokens = {}
    for name in ("a", "b"):
        await register(http, f"{name}@example.com")
        login = await http.post(
            "/api/auth/limited-login",
            json={"email": f"{name}@example.com", "password": "correct horse battery"},
        )
        tokens[name] = {"Authorization": f"Bearer {login.json()['access_token']}"}
    for _ in range(2):
        assert (await http.get("/api/limited/things", headers=tokens["a"])).status_code == 200
    assert_429(await http.get("/api/limited/things", headers=tokens["a"]), 60)
    assert (await http.get("/api/limited/things", headers=tokens["b"])).status_code == 200
    # No token and made-up tokens share the client IP's budget, which the two anonymous
    # registrations above have spent: new fake tokens do not help.
    assert_429(await http.get("/api/limited/things"), 60)
    for fake in ("not-a-token", "fp_made-up-key"):
        headers = {"Authorization": f"Bearer {fake}"}
        assert_429(await http.get("/api/limited/things", headers=headers), 60)


async def test_webhooks_are_limited_per_token_and_the_token_is_not_stored(
    http: httpx.AsyncClient, redis_client: aioredis.Redis, prefix: str
) -> None:
    secret = "whk_" + uuid.uuid4().hex
    for _ in range(2):
        assert (await http.post(f"/api/plain/hooks/{secret}")).status_code == 200
    assert_429(await http.post(f"/api/plain/hooks/{secret}"), 60)
    assert (await http.post("/api/plain/hooks/another-token")).status_code == 200
    keys = [key.decode() async for key in redis_client.scan_iter(match=prefix + "*")]
    assert any(key.startswith(prefix + "webhook:hook:") for key in keys)
    assert not any(secret in key for key in keys)


async def test_a_fixed_limit_answers_429_with_retry_after(http: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await http.get("/api/plain/fixed")).status_code == 200
    assert_429(await http.get("/api/plain/fixed"), 60)


async def test_the_in_process_limiter_serves_the_same_answers(tmp_path: Path) -> None:
    async for http in make_client(tmp_path, MemoryRateLimiter()):
        for _ in range(2):
            assert (await http.get("/api/plain/fixed")).status_code == 200
        assert_429(await http.get("/api/plain/fixed"), 60)


async def test_redis_down_fails_login_and_triggers_closed_and_lets_reads_through(
    http_down: httpx.AsyncClient,
) -> None:
    login = await http_down.post(
        "/api/auth/limited-login", json={"email": "a@example.com", "password": "whatever1"}
    )
    assert login.status_code == 503
    assert "rate limiting is temporarily unavailable" in login.json()["detail"]
    assert login.headers["Retry-After"] == "5"
    assert (await http_down.post("/api/limited/things")).status_code == 503
    assert (await http_down.post("/api/plain/hooks/tok")).status_code == 503
    for _ in range(5):
        assert (await http_down.get("/api/limited/things")).status_code == 200
