"""FastAPI dependencies: settings, database session, the current user and their powers."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import Forbidden, Unauthorized
from api.security import API_KEY_PREFIX, AccessTokens, api_key_hash, request_user_id
from core.config import Settings
from core.logs import bind
from core.models import ApiKey, User, utcnow
from core.payload_store import PayloadStore

_bearer = HTTPBearer(auto_error=False, description="A token from /api/auth/login or an API key")
CODEC_COOKIE = "flowpilot_codec"
"""Set by login for the Temporal Web UI, which cannot send a bearer token; sent by browsers
only to CODEC_COOKIE_PATH and taken nowhere else."""
CODEC_COOKIE_PATH = "/api/codec"
_codec_cookie = APIKeyCookie(
    name=CODEC_COOKIE,
    auto_error=False,
    description="Set by /api/auth/login for the Temporal Web UI (/api/codec only)",
)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def get_payload_store(request: Request) -> PayloadStore:
    """Where large values of run records are kept (core/large_values.py)."""
    store: PayloadStore = request.app.state.payload_store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
PayloadStoreDep = Annotated[PayloadStore, Depends(get_payload_store)]


async def get_current_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("not authenticated")
    token = credentials.credentials
    if token.startswith(API_KEY_PREFIX):
        user = await _user_for_api_key(session, token)
    else:
        user_id = request_user_id(request, token)
        user = await session.get(User, user_id) if user_id else None
    return _signed_in(user)


def _signed_in(user: User | None) -> User:
    if user is None or not user.is_active:
        raise Unauthorized("invalid or expired credentials")
    bind(user_id=str(user.id))  # for the rest of the request's log lines
    return user


async def _user_for_api_key(session: AsyncSession, key: str) -> User | None:
    api_key = (
        await session.exec(select(ApiKey).where(ApiKey.key_hash == api_key_hash(key)))
    ).first()
    if api_key is None:
        return None
    api_key.last_used_at = utcnow()
    await session.commit()
    return await session.get(User, api_key.user_id)


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_codec_user(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[str | None, Depends(_codec_cookie)],
) -> User:
    """The codec endpoint's user: a bearer token or API key as everywhere (the Temporal CLI's
    --codec-auth), else the codec cookie (the Temporal Web UI). A bearer header, when sent,
    decides alone."""
    if credentials is not None:
        return await get_current_user(request, session, credentials)
    if not token:
        raise Unauthorized("not authenticated")
    tokens: AccessTokens = request.app.state.codec_tokens
    user_id = tokens.user_id(token)
    return _signed_in(await session.get(User, user_id) if user_id else None)


CodecUser = Annotated[User, Depends(get_codec_user)]


async def get_editor(user: CurrentUser) -> User:
    """The current user, if they may create, change, delete and run things."""
    if user.role == "viewer":
        raise Forbidden("viewers cannot change or run anything")
    return user


async def get_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise Forbidden("admins only")
    return user


Editor = Annotated[User, Depends(get_editor)]
Admin = Annotated[User, Depends(get_admin)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
