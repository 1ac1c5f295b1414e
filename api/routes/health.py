"""Liveness, readiness and metrics, outside /api."""

import asyncio
from collections.abc import Awaitable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from api.deps import SessionDep
from api.metrics import metrics_response
from api.ratelimit import RedisRateLimiter
from api.temporal import temporal_client

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database, Temporal and (when configured) Redis answer; 503 otherwise."""
    checks = {
        "database": await _check(_database(request)),
        "temporal": await _check(_temporal(request)),
    }
    limiter = request.app.state.rate_limiter
    if isinstance(limiter, RedisRateLimiter):
        checks["redis"] = await _check(limiter.client.ping())
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(session: SessionDep) -> Response:
    """Prometheus metrics."""
    return await metrics_response(session)


async def _check(probe: Awaitable[object]) -> str:
    """'ok', or the kind of error: any failure within 3 s means not ready."""
    try:
        await asyncio.wait_for(probe, timeout=3)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"


async def _database(request: Request) -> None:
    async with request.app.state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _temporal(request: Request) -> None:
    client = await temporal_client(request)
    await client.service_client.check_health()
