"""The audit trail, for admins."""

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import Admin, SessionDep
from api.errors import Unprocessable
from api.pagination import MAX_LIMIT, newest_first, read_page
from api.schemas import AuditLogPublic, Page
from core.models import AuditLog

router = APIRouter(prefix="/audit-logs", tags=["audit"])


@router.get("", response_model=Page[AuditLogPublic])
async def read_audit_logs(
    _admin: Admin,
    session: SessionDep,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[Any]:
    """Who did what to which thing, from where; newest first, filterable."""
    query = select(AuditLog)
    if action is not None:
        query = query.where(AuditLog.action == action)
    if actor_id is not None:
        query = query.where(AuditLog.actor_id == actor_id)
    if target is not None:
        query = query.where(AuditLog.target == target)
    if since is not None:
        query = query.where(col(AuditLog.created_at) >= _in_utc(since))
    query = newest_first(query, AuditLog, after_cursor=bool(cursor))
    items, next_cursor = await read_page(session, query, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


def _in_utc(moment: datetime) -> datetime:
    """`since` in UTC, as times are stored (a time without a zone is taken as UTC); 422 for
    one whose UTC time falls outside the years 1 to 9999 (0001-01-01T00:00+14:00)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise Unprocessable(
            [{"loc": ["query", "since"], "msg": "out of range in UTC", "type": "value_error"}]
        ) from None
