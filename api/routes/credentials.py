"""Credentials: write-only secrets, encrypted at rest (AES-256-GCM), scoped to their owner.

The data of a credential goes in once, encrypted, and never comes back out through the API:
not in answers, not in errors, not in the audit log. The body of a create is parsed here
rather than by FastAPI, because FastAPI's 422 answers echo the offending input.
"""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from api import audit, crud
from api.credential_checks import check_connection
from api.deps import CurrentUser, Editor, SessionDep, SettingsDep
from api.errors import Conflict, Unprocessable
from api.pagination import MAX_LIMIT, newest_first, read_page
from api.schemas import CredentialCreate, CredentialPublic, CredentialTestResult, Page
from core.credential_kinds import KINDS, CredentialDataError, plain_data, validate_credential
from core.crypto import CredentialCipher, CredentialDecryptError, associated_data, cipher_for
from core.models import Credential

router = APIRouter(prefix="/credentials", tags=["credentials"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]

UNDECRYPTABLE = (
    "the credential cannot be decrypted with the current FLOWPILOT_SECRET_KEY "
    "(was the key changed?); delete it and create it again"
)


async def get_cipher(request: Request) -> CredentialCipher:
    cipher: CredentialCipher | None = getattr(request.app.state, "credential_cipher", None)
    if cipher is None:
        cipher = cipher_for(request.app.state.settings)
        request.app.state.credential_cipher = cipher
    return cipher


CipherDep = Annotated[CredentialCipher, Depends(get_cipher)]


def public(credential: Credential) -> CredentialPublic:
    return CredentialPublic.model_validate(credential, from_attributes=True)


async def _read_create(request: Request) -> CredentialCreate:
    """The body, checked; errors name fields and never echo a value."""
    try:
        raw = await request.json()
    except ValueError:
        raise Unprocessable(
            [{"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}]
        ) from None
    try:
        return CredentialCreate.model_validate(raw)
    except ValidationError as error:
        problems = error.errors(include_input=False, include_url=False, include_context=False)
        raise Unprocessable(
            [{"loc": ["body", *p["loc"]], "msg": p["msg"], "type": p["type"]} for p in problems]
        ) from None


@router.get("/kinds", response_model=dict[str, dict[str, Any]])
async def read_credential_kinds(_user: CurrentUser) -> dict[str, dict[str, Any]]:
    """Every kind of credential with the JSON schema of its `data`."""
    return {kind: model.model_json_schema(by_alias=True) for kind, model in KINDS.items()}


@router.get("", response_model=Page[CredentialPublic])
async def read_credentials(
    user: CurrentUser, session: SessionDep, limit: Limit = 50, cursor: str | None = None
) -> Page[CredentialPublic]:
    """Your credentials (every credential for admins), newest first, without their data."""
    query = select(Credential)
    if user.role != "admin":
        query = query.where(col(Credential.owner_id) == user.id)
    query = newest_first(query, Credential, after_cursor=bool(cursor))
    rows, next_cursor = await read_page(session, query, cursor, limit)
    return Page(items=[public(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "",
    response_model=CredentialPublic,
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CredentialCreate.model_json_schema()}},
        }
    },
)
async def create_credential(
    request: Request, user: Editor, session: SessionDep, cipher: CipherDep
) -> CredentialPublic:
    """Store a credential; its `data` is checked against its kind, encrypted, never shown."""
    body = await _read_create(request)
    try:
        data = validate_credential(body.kind, body.data)
    except CredentialDataError as error:
        raise Unprocessable(
            [
                {
                    "loc": ["body", *i["field"].split(".")],
                    "msg": i["message"],
                    "type": "value_error",
                }
                for i in error.issues
            ]
        ) from None
    taken = select(Credential.id).where(
        Credential.owner_id == user.id, Credential.name == body.name
    )
    if (await session.exec(taken)).first() is not None:
        raise Conflict(f"you already have a credential named '{body.name}'")
    credential_id = uuid.uuid4()
    credential = Credential(
        id=credential_id,
        owner_id=user.id,
        name=body.name,
        kind=body.kind,
        ciphertext=cipher.encrypt(plain_data(data), associated_data(user.id, credential_id)),
    )
    session.add(credential)
    audit.record(
        session,
        request,
        user.id,
        "credential.create",
        f"credential:{credential.id}",
        name=credential.name,
        kind=credential.kind,
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"you already have a credential named '{body.name}'") from None
    return public(credential)


@router.delete("/{credential_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_credential(
    credential_id: uuid.UUID, user: Editor, session: SessionDep, request: Request
) -> Response:
    """Delete a credential; workflows naming it fail at that node until another takes its name."""
    credential = await crud.get_owned(session, user, Credential, credential_id)
    await session.delete(credential)
    audit.record(
        session,
        request,
        user.id,
        "credential.delete",
        f"credential:{credential.id}",
        name=credential.name,
        kind=credential.kind,
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{credential_id}/test", response_model=CredentialTestResult)
async def test_credential(
    credential_id: uuid.UUID,
    user: Editor,
    session: SessionDep,
    cipher: CipherDep,
    settings: SettingsDep,
    request: Request,
) -> CredentialTestResult:
    """Check that the credential decrypts, fits its kind and works: its service is contacted
    (SMTP login, Slack auth.test, Notion users/me, OpenAI models, a Google token)."""
    credential = await crud.get_owned(session, user, Credential, credential_id)
    target = f"credential:{credential.id}"
    try:
        stored = cipher.decrypt(
            credential.ciphertext, associated_data(credential.owner_id, credential.id)
        )
    except CredentialDecryptError:
        audit.record(
            session, request, user.id, "credential.test", target, ok=False, reason="undecryptable"
        )
        await session.commit()
        raise Conflict(UNDECRYPTABLE) from None
    try:
        validate_credential(credential.kind, stored)
    except CredentialDataError as error:
        fields = ", ".join(sorted({i["field"] for i in error.issues}))
        result = CredentialTestResult(
            ok=False,
            live=False,
            message=f"stored data no longer fits kind '{credential.kind}' ({fields}); "
            "delete it and create it again",
        )
    else:
        result = await check_connection(credential.kind, stored, settings)
    audit.record(
        session, request, user.id, "credential.test", target, ok=result.ok, live=result.live
    )
    await session.commit()
    return result
