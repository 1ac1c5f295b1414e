"""API keys for scripts and the CLI: shown once at creation, stored only as a hash."""

import uuid

from fastapi import APIRouter, Request, Response, status
from sqlmodel import col, select

from api import audit
from api.deps import CurrentUser, SessionDep
from api.errors import NotFound
from api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from api.security import api_key_hash, new_api_key
from core.models import ApiKey

router = APIRouter(prefix="/api-keys", tags=["api keys"])


@router.get("", response_model=list[ApiKeyPublic])
async def read_api_keys(user: CurrentUser, session: SessionDep) -> list[ApiKey]:
    """Your API keys (never the keys themselves), newest first."""
    query = select(ApiKey).where(ApiKey.user_id == user.id).order_by(col(ApiKey.created_at).desc())
    return list((await session.exec(query)).all())


@router.post("", response_model=ApiKeyCreated, status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: ApiKeyCreate, user: CurrentUser, session: SessionDep, request: Request
) -> ApiKeyCreated:
    """A new key acting as you; its value is in this answer and nowhere else, ever."""
    key = new_api_key()
    api_key = ApiKey(user_id=user.id, name=body.name, prefix=key[:8], key_hash=api_key_hash(key))
    session.add(api_key)
    audit.record(session, request, user.id, "api_key.create", f"api_key:{api_key.id}")
    await session.commit()
    return ApiKeyCreated(**ApiKeyPublic.model_validate(api_key).model_dump(), key=key)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(
    key_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> Response:
    """Revoke a key at once."""
    api_key = await session.get(ApiKey, key_id)
    if api_key is None or api_key.user_id != user.id:
        raise NotFound("API key not found")
    await session.delete(api_key)
    audit.record(session, request, user.id, "api_key.delete", f"api_key:{key_id}")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
