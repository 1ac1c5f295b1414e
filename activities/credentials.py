"""Resolving a node's credential inside the worker: by name, for the run's owner, decrypted here.

The workflow only ever carries the credential's name; the secret exists in this process's
memory for the duration of one call and in no payload, history, output or log line (a
service that echoes it back is scrubbed, see `activities.secret_redaction`).
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.secret_redaction import remember_secrets
from core.credential_kinds import secret_values
from core.crypto import CredentialCipher, CredentialDecryptError, associated_data
from core.db import is_unreachable
from core.models import AuditLog, Credential, utcnow
from workflows.catalog import NODE_TYPES
from workflows.contract import NodeInput


@dataclass(frozen=True)
class ResolvedCredential:
    kind: str
    data: dict[str, Any]

    def __repr__(self) -> str:  # never print the secret, whatever logs it
        return f"ResolvedCredential(kind={self.kind!r}, data=<hidden>)"


class CredentialStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cipher: CredentialCipher
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher

    async def resolve_for(self, node: NodeInput) -> ResolvedCredential:
        """The node's credential, which must be of a kind its node type takes."""
        kinds = NODE_TYPES[node.type].credential_kinds if node.type in NODE_TYPES else ()
        wanted = " or ".join(f"'{kind}'" for kind in kinds)
        if node.credential is None:
            raise _unusable(f"{node.type} needs a credential of kind {wanted}")
        resolved = await self.resolve(node.owner_id, node.credential, node.run_id)
        if resolved.kind not in kinds:
            raise _unusable(
                f"credential '{node.credential}' is of kind '{resolved.kind}', which "
                f"{node.type} cannot use (use {wanted})"
            )
        return resolved

    async def resolve(self, owner_id: str | None, name: str, run_id: str) -> ResolvedCredential:
        """The owner's credential `name`, decrypted; its use is stamped and audited.

        While the database is unreachable the lookup is tried again within the activity,
        heartbeating, until its start-to-close timeout nears: a node's retry policy allows
        few attempts a few seconds apart (3 within 3 s by default), and spending them on a
        database outage would fail the node for good.
        """
        if owner_id is None:
            raise _unusable(f"credential '{name}' needs a run started through Flowpilot's API")
        pause = _FIRST_PAUSE
        while True:
            try:
                return await self._lookup(owner_id, name, run_id)
            except Exception as error:
                if not is_unreachable(error) or not _may_wait(pause):
                    raise
            if not activity.info().is_local:
                activity.heartbeat()
            await asyncio.sleep(pause.total_seconds())
            pause = min(pause * 2, _LONGEST_PAUSE)

    async def _lookup(self, owner_id: str, name: str, run_id: str) -> ResolvedCredential:
        async with self._sessions() as session:
            query = select(Credential).where(
                Credential.owner_id == uuid.UUID(owner_id), Credential.name == name
            )
            credential = (await session.exec(query)).first()
            if credential is None:
                raise _unusable(f"credential '{name}' does not exist for this workflow's owner")
            try:
                data = self._cipher.decrypt(
                    credential.ciphertext, associated_data(credential.owner_id, credential.id)
                )
            except CredentialDecryptError as error:
                raise _unusable(f"credential '{name}': {error}") from None
            credential.last_used_at = utcnow()
            session.add(
                AuditLog(
                    action="credential.use",
                    target=f"credential:{credential.id}",
                    details={"run": run_id, "name": name},
                )
            )
            await session.commit()
            remember_secrets(secret_values(credential.kind, data))
            return ResolvedCredential(kind=credential.kind, data=data)


_FIRST_PAUSE = timedelta(seconds=0.5)
_LONGEST_PAUSE = timedelta(seconds=5)


def _may_wait(pause: timedelta) -> bool:
    """Whether the current activity may pause this long and still try once more within
    its start-to-close timeout. Never outside an activity."""
    if not activity.in_activity():
        return False
    info = activity.info()
    if info.start_to_close_timeout is None:
        return False
    deadline = info.started_time + info.start_to_close_timeout
    return datetime.now(UTC) + pause * 2 < deadline


def _unusable(message: str) -> ApplicationError:
    return ApplicationError(message, type="CredentialUnavailable", non_retryable=True)
