"""Resolving a node's credential inside the worker: by name, for the run's owner, decrypted here.

The workflow only ever carries the credential's name; the secret exists in this process's
memory for the duration of one call and in no payload, history, output or log line.
"""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from core.crypto import CredentialCipher, CredentialDecryptError, associated_data
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
        """The owner's credential `name`, decrypted; its use is stamped and audited."""
        if owner_id is None:
            raise _unusable(f"credential '{name}' needs a run started through Flowpilot's API")
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
            return ResolvedCredential(kind=credential.kind, data=data)


def _unusable(message: str) -> ApplicationError:
    return ApplicationError(message, type="CredentialUnavailable", non_retryable=True)
