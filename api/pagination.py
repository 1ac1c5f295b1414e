"""Keyset pagination, newest first: a cursor is the (created_at, id) of the last item seen."""

import base64
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam
from sqlmodel import and_, col, or_
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select, SelectOfScalar

from api.errors import BadRequest

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


def newest_first(query: Q, model: Any, *, after_cursor: bool) -> Q:
    """Order `query` (of rows or of columns of `model`) newest first, with one extra row to
    tell if more follow.

    The page size and, with `after_cursor`, the cursor are bound parameters (`read_page` fills
    them in), so a statement built once can serve every page.
    """
    if after_cursor:
        created_at, item_id = col(model.created_at), col(model.id)
        query = query.where(
            or_(
                created_at < bindparam("after_created_at"),
                and_(created_at == bindparam("after_created_at"), item_id < bindparam("after_id")),
            )
        )
    return query.order_by(col(model.created_at).desc(), col(model.id).desc()).limit(
        bindparam("page_rows")
    )


async def read_page(
    session: AsyncSession, statement: Any, cursor: str | None, limit: int, **params: Any
) -> tuple[list[Any], str | None]:
    """One page of a `newest_first` statement (with its other bound `params`) and the cursor
    of the next page, if there is one."""
    params["page_rows"] = limit + 1
    if cursor:
        params["after_created_at"], params["after_id"] = decode_cursor(cursor)
    rows: list[Any] = list((await session.exec(statement, params=params)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor(last.created_at, last.id)
