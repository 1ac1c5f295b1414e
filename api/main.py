"""The FastAPI application factory."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from api.answer_cache import RedisAnswerCache
from api.errors import ApiError
from api.frontend import mount_frontend
from api.limits import check_json_body
from api.metrics import RequestMetrics
from api.ratelimit import api_rate_limit, build_rate_limiter
from api.request_context import RequestContext
from api.request_spans import RequestSpans
from api.routes import (
    api_keys,
    audit_logs,
    auth,
    codec,
    credentials,
    dry_run,
    generate,
    health,
    hooks,
    instance,
    node_types,
    runs,
    templates,
    users,
    workflows,
)
from api.schemas import ErrorAnswer, UnprocessableAnswer
from api.security import CODEC_SCOPE, AccessTokens
from api.security_headers import SecurityHeaders
from core import tracing
from core.config import Settings, get_settings
from core.db import DatabaseUnavailable, create_engine, is_unreachable, session_factory
from core.migrate import upgrade
from core.payload_store import payload_store
from core.runtime import freeze_startup_objects
from core.secrets import derive_key, instance_secret
from workflows.definition import DefinitionError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

# FastAPI documents every 422 as its own validation error; the handlers below also answer 422
# with a definition's issues or a storage refusal, so /api documents all three shapes.
API_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorAnswer, "description": "The request body is larger than the API takes"},
    422: {"model": UnprocessableAnswer, "description": "The request cannot be processed"},
    503: {
        "model": ErrorAnswer,
        "description": "The database, Temporal or the rate limiter is unavailable; "
        "try again after `Retry-After` seconds where given",
    },
}
DATABASE_RETRY_AFTER_SECONDS = 5


def create_app(
    settings: Settings | None = None,
    *,
    serving: bool = False,
    tracer_provider: "TracerProvider | None" = None,
) -> FastAPI:
    """The app; `serving` when it is the process's one app (the API server), so start-up may
    tune the process for it. Its traces go to `tracer_provider`, by default to the collector
    at OTEL_EXPORTER_OTLP_ENDPOINT (none when unset)."""
    settings = settings or get_settings()
    provider = tracer_provider or tracing.tracer_provider(settings, "api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(upgrade, settings)
        app.state.engine = create_engine(settings)
        app.state.sessions = session_factory(app.state.engine)
        app.state.payload_store = payload_store(settings, app.state.engine)
        app.state.temporal = None
        if serving:
            freeze_startup_objects()
        yield
        await app.state.payload_store.aclose()
        await app.state.engine.dispose()
        await app.state.rate_limiter.aclose()
        await app.state.llm_http.aclose()
        if app.state.answer_cache is not None:
            await app.state.answer_cache.aclose()
        if provider is not None and tracer_provider is None:
            await asyncio.to_thread(provider.shutdown)  # sends the spans still batched

    app = FastAPI(
        title="Flowpilot",
        summary="Durable workflow automation on Temporal",
        version="0.1.0",
        lifespan=lifespan,
        max_body_size=settings.api_max_body_bytes,  # 413 before a route reads the body
    )
    app.state.settings = settings
    app.state.access_tokens = AccessTokens(derive_key(instance_secret(settings), "jwt"))
    # The codec cookie's tokens: same key, but each reader refuses the other's scope.
    app.state.codec_tokens = AccessTokens(app.state.access_tokens.key, scope=CODEC_SCOPE)
    app.state.rate_limiter = build_rate_limiter(settings.redis_url)
    # The instance's model endpoint is the operator's choice (often a local server), so
    # generation does not go through the guard that keeps users' nodes off internal hosts.
    app.state.llm_http = httpx.AsyncClient(trust_env=False)
    app.state.answer_cache = (
        RedisAnswerCache.from_url(settings.redis_url, settings.nl_cache_seconds)
        if settings.redis_url and settings.nl_cache_seconds
        else None
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(RequestMetrics)
    app.state.temporal_interceptors = tracing.temporal_interceptors(provider)
    if provider is not None:
        app.add_middleware(RequestSpans, tracer=provider.get_tracer(tracing.TRACER_NAME))
    codec.install(app, settings)  # /api/codec: the Temporal UI's codec server, with its CORS
    app.add_middleware(SecurityHeaders)  # CSP, nosniff, DENY framing: as nginx.conf sets
    app.add_middleware(RequestContext)  # outermost: every line of the request has its id
    _add_error_handlers(app)
    app.include_router(health.router)
    routers = (
        auth,
        api_keys,
        users,
        audit_logs,
        node_types,
        generate,
        workflows,
        dry_run,
        runs,
        credentials,
        templates,
        instance,
    )
    for module in routers:
        app.include_router(
            module.router,
            prefix="/api",
            dependencies=[Depends(api_rate_limit), Depends(check_json_body)],
            responses=API_RESPONSES,
        )
    app.include_router(  # limited per webhook token instead
        hooks.router,
        prefix="/api",
        dependencies=[Depends(check_json_body)],
        responses=API_RESPONSES,
    )
    mount_frontend(app, settings.frontend_dir)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        """FastAPI's default echoes each offending `input`, which may be a password or a
        credential's secret: answer with where and what only."""
        errors = [
            {"loc": detail["loc"], "msg": detail["msg"], "type": detail["type"]}
            for detail in error.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def conflict(_request: Request, _error: IntegrityError) -> JSONResponse:
        return JSONResponse(
            {"detail": "the change conflicts with existing data; reload and try again"},
            status_code=409,
        )

    @app.exception_handler(DatabaseUnavailable)
    async def database_down(_request: Request, _error: DatabaseUnavailable) -> JSONResponse:
        return _database_unavailable()

    @app.exception_handler(DBAPIError)
    async def unstorable(_request: Request, error: DBAPIError) -> JSONResponse:
        """A value the database refuses to store or even compare (SQLSTATE class 22, e.g. a
        NUL character in text), whichever error class the driver maps it to; a connection
        the database dropped. Any other database error stays a server error."""
        if is_unreachable(error):
            return _database_unavailable()
        sqlstate = str(getattr(error.orig, "sqlstate", None) or "")
        if not (isinstance(error, DataError) or sqlstate.startswith("22")):
            raise error
        return JSONResponse(
            {"detail": "a value cannot be stored (for example a NUL character in text)"},
            status_code=422,
        )

    @app.exception_handler(DefinitionError)
    async def invalid_definition(_request: Request, error: DefinitionError) -> JSONResponse:
        issues = [issue.model_dump() for issue in error.issues]
        return JSONResponse({"detail": issues}, status_code=422)


def _database_unavailable() -> JSONResponse:
    """The database cannot be reached (stopped, restarting, unreachable): the client may
    retry, so a 503 with a hint of when rather than a 500."""
    return JSONResponse(
        {"detail": "the database is unavailable; try again shortly"},
        status_code=503,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
    )
