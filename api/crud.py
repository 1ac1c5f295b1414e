"""Database operations on workflows, each scoped to the user asking."""

import secrets
import uuid
from collections import OrderedDict
from typing import Any, Protocol, TypeVar

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import NotFound
from core.models import Credential, User, Workflow, WorkflowVersion, utcnow
from workflows.catalog import NODE_TYPES
from workflows.definition import Definition, DefinitionError, Issue, validate_definition


def owned_by(user: User) -> Any:
    """The filter that scopes a query to what `user` may see (admins see everything)."""
    return True if user.role == "admin" else col(Workflow.owner_id) == user.id


class Owned(Protocol):
    owner_id: uuid.UUID


OwnedT = TypeVar("OwnedT", bound=Owned)


async def get_owned(
    session: AsyncSession,
    user: User,
    model: type[OwnedT],
    item_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> OwnedT:
    """The row, if it exists and `user` may see it (theirs, or any for admins).

    Anything else is a 404, never a 403, so ids cannot be probed. `for_update` locks the
    row until the transaction ends (PostgreSQL).
    """
    item = await session.get(model, item_id, with_for_update=for_update)
    if item is None or (user.role != "admin" and item.owner_id != user.id):
        raise NotFound(f"{model.__name__.lower()} not found")
    return item


async def get_workflow(
    session: AsyncSession, user: User, workflow_id: uuid.UUID, *, for_update: bool = False
) -> Workflow:
    """The workflow; `for_update` makes concurrent updates number versions in turn."""
    return await get_owned(session, user, Workflow, workflow_id, for_update=for_update)


async def get_version(session: AsyncSession, workflow: Workflow, version: int) -> WorkflowVersion:
    query = select(WorkflowVersion).where(
        WorkflowVersion.workflow_id == workflow.id, WorkflowVersion.version == version
    )
    found = (await session.exec(query)).first()
    if found is None:
        raise NotFound(f"version {version} not found")
    return found


_DEFINITIONS: OrderedDict[uuid.UUID, Definition] = OrderedDict()
_DEFINITIONS_KEPT = 256


def definition_of(version: WorkflowVersion) -> Definition:
    """The version's definition, validated: once per version row, since versions never change.

    Starting a run needs the parsed definition each time; a webhook on a 40-node workflow
    would otherwise re-validate the same JSON on every delivery. The most recently used
    versions are kept (`_DEFINITIONS_KEPT`); callers must not modify what they get.
    """
    definition = _DEFINITIONS.get(version.id)
    if definition is None:
        definition = validate_definition(version.definition)
        _DEFINITIONS[version.id] = definition
        if len(_DEFINITIONS) > _DEFINITIONS_KEPT:
            _DEFINITIONS.popitem(last=False)
    else:
        _DEFINITIONS.move_to_end(version.id)
    return definition


async def check_credentials(
    session: AsyncSession, owner_id: uuid.UUID, raw: dict[str, Any]
) -> None:
    """Every credential a definition names must be one of its owner's, of a kind its node
    can use (422 naming the node otherwise)."""
    named = _credential_names(raw.get("nodes", []) + raw.get("on_failure", []))
    if not named:
        return
    wanted = {name for _, name in named.values()}
    query = select(Credential.name, Credential.kind).where(
        Credential.owner_id == owner_id, col(Credential.name).in_(wanted)
    )
    kinds = dict((await session.exec(query)).all())
    issues = []
    for node_id, (node_type, name) in named.items():
        accepted = NODE_TYPES[node_type].credential_kinds if node_type in NODE_TYPES else ()
        if name not in kinds:
            issues.append(
                Issue(node=node_id, field="credential", message=f"no credential named '{name}'")
            )
        elif accepted and kinds[name] not in accepted:
            message = (
                f"credential '{name}' is of kind '{kinds[name]}'; '{node_type}' nodes take "
                + " or ".join(accepted)
            )
            issues.append(Issue(node=node_id, field="credential", message=message))
    if issues:
        raise DefinitionError(issues)


def _credential_names(nodes: list[Any]) -> dict[str, tuple[str, str]]:
    """node id → (node type, credential name), foreach bodies included."""
    names: dict[str, tuple[str, str]] = {}
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("credential"), str):
            names[str(node.get("id"))] = (str(node.get("type")), node["credential"])
        body = node.get("params", {}).get("nodes") if isinstance(node.get("params"), dict) else None
        if node.get("type") == "foreach" and isinstance(body, list):
            names.update(_credential_names(body))
    return names


def create_workflow(
    session: AsyncSession, user: User, raw: dict[str, Any], definition: Definition
) -> Workflow:
    workflow = Workflow(owner_id=user.id, name=definition.name, current_version=0)
    session.add(workflow)
    add_version(session, user, workflow, raw, definition)
    return workflow


def add_version(
    session: AsyncSession,
    user: User,
    workflow: Workflow,
    raw: dict[str, Any],
    definition: Definition,
) -> WorkflowVersion:
    """Store `raw` (already validated as `definition`), as written, as the next version."""
    workflow.current_version += 1
    workflow.name = definition.name
    workflow.description = definition.description
    workflow.trigger_type = definition.trigger.type
    workflow.updated_at = utcnow()
    if definition.trigger.type == "webhook" and workflow.webhook_token is None:
        workflow.webhook_token = secrets.token_urlsafe(32)
    elif definition.trigger.type != "webhook":
        workflow.webhook_token = None
    version = WorkflowVersion(
        workflow_id=workflow.id,
        version=workflow.current_version,
        definition=raw,
        created_by=user.id,
    )
    session.add(version)
    return version
