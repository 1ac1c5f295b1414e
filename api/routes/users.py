"""User administration (admins only)."""

import uuid

from fastapi import APIRouter, Request
from sqlmodel import col, select

from api import audit
from api.deps import Admin, SessionDep
from api.errors import BadRequest, NotFound
from api.schemas import UserPublic, UserUpdate
from core.models import User

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic])
async def read_users(_admin: Admin, session: SessionDep) -> list[User]:
    """Every account, oldest first."""
    return list((await session.exec(select(User).order_by(col(User.created_at)))).all())


@router.patch("/{user_id}", response_model=UserPublic)
async def update_user(
    user_id: uuid.UUID, body: UserUpdate, admin: Admin, session: SessionDep, request: Request
) -> User:
    """Change a user's role or deactivate them."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.id == admin.id and (body.role not in (None, "admin") or body.is_active is False):
        raise BadRequest("admins cannot demote or deactivate themselves")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)  # null: no change
    for field, value in changes.items():
        setattr(user, field, value)
    audit.record(session, request, admin.id, "user.update", f"user:{user.id}", **changes)
    await session.commit()
    return user
