"""The audit trail: who did what to which thing, from where."""

import uuid
from typing import Any

from fastapi import Request
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import client_ip
from core.models import AuditLog


def record(
    session: AsyncSession,
    request: Request,
    actor_id: uuid.UUID | None,
    action: str,
    target: str = "",
    **details: Any,
) -> AuditLog:
    """Add an audit row to the session; it commits with the change it describes."""
    entry = AuditLog(
        actor_id=actor_id,
        action=action,
        target=target,
        ip=client_ip(request),
        details=details or None,
    )
    session.add(entry)
    return entry
