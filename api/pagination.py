"""Keyset pagination, newest first: a cursor is the (created_at, id) of the last item seen."""

import base64
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlmodel import and_, col, or_
from sqlmodel.sql.expression import Select, SelectOfScalar

from api.errors import BadRequest

M = TypeVar("M")
Q = TypeVar("Q", bound=SelectOfScalar[Any] | Select[Any])
MAX_LIMIT = 200


def encode_cursor(created_at: datetime, item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{item_id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created_at, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(created_at)
        if moment.tzinfo is None:
            raise ValueError("cursor time without zone")
        return moment.astimezone(UTC), uuid.UUID(item_id)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise BadRequest("invalid cursor") from None


def newest_first(query: Q, model: Any, cursor: str | None, limit: int) -> Q:
    """Order `query` (of rows or of columns of `model`) newest first, after `cursor`, with one
    extra row to tell if more follow."""
    if cursor:
        created_at, item_id = decode_cursor(cursor)
        query = query.where(
            or_(
                col(model.created_at) < created_at,
                and_(col(model.created_at) == created_at, col(model.id) < item_id),
            )
        )
    return query.order_by(col(model.created_at).desc(), col(model.id).desc()).limit(limit + 1)


def page_of(rows: list[M], limit: int) -> tuple[list[M], str | None]:
    if len(rows) <= limit:
        return rows, None
    last: Any = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
