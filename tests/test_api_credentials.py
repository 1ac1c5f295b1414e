"""Credentials through the real app, on PostgreSQL and on SQLite: write-only, encrypted, scoped."""

import json
import os
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlmodel import select

from api.main import create_app
from core.config import Settings
from core.credential_kinds import KINDS
from core.crypto import CredentialCipher, CredentialDecryptError, associated_data, cipher_for
from core.models import AuditLog, Credential
from tests.support.api import sign_up, user_id

CANARY = "canary-7f3a9"


def _app(api: httpx.AsyncClient) -> FastAPI:
    return api._transport.app  # type: ignore[attr-defined,no-any-return]


async def _create(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    name: str = "github-bot",
    kind: str = "bearer",
    data: dict[str, Any] | None = None,
) -> httpx.Response:
    body = {"name": name, "kind": kind, "data": data if data is not None else {"token": CANARY}}
    return await api.post("/api/credentials", json=body, headers=headers)


async def _rows(api: httpx.AsyncClient, model: Any) -> list[Any]:
    async with _app(api).state.sessions() as session:
        return list((await session.exec(select(model))).all())


EXAMPLES: dict[str, dict[str, Any]] = {
    "bearer": {"token": CANARY},
    "basic": {"username": "ana", "password": CANARY},
    "api_key_header": {"header": "X-Api-Key", "value": CANARY},
    "smtp": {
        "host": "smtp.example.com",
        "port": 465,
        "security": "tls",
        "username": "ana",
        "password": CANARY,
        "from": "ana@example.com",
    },
    "openai": {"api_key": CANARY, "base_url": "https://api.openai.com/v1", "model": "gpt-4o"},
    "slack": {"bot_token": CANARY},
    "notion": {"token": CANARY},
    "google_service_account": {
        "service_account_json": json.dumps(
            {"type": "service_account", "client_email": "a@b.iam", "private_key": CANARY}
        )
    },
    "google_oauth_token": {"access_token": CANARY},
    "s3": {"access_key_id": "AKIA1", "secret_access_key": CANARY, "region": "eu-west-1"},
}


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(KINDS)


# --- the cipher -------------------------------------------------------------------------------


def test_cipher_round_trip_and_nonce_uniqueness() -> None:
    cipher = CredentialCipher(os.urandom(32))
    data = {"token": CANARY, "n": 1}
    first = cipher.encrypt(data, "owner:one")
    second = cipher.encrypt(data, "owner:one")
    assert cipher.decrypt(first, "owner:one") == cipher.decrypt(second, "owner:one") == data
    assert first[0] == 1  # the version byte
    assert first != second
    nonces = {cipher.encrypt(data, "owner:one")[1:13] for _ in range(200)}
    assert len(nonces) == 200
    assert CANARY.encode() not in first


def test_cipher_detects_tampering_another_key_and_another_row() -> None:
    key = os.urandom(32)
    cipher = CredentialCipher(key)
    blob = cipher.encrypt({"token": CANARY}, "owner:one")
    for index in (0, 1, 12, 13, len(blob) - 1):  # version, nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(CredentialDecryptError):
            cipher.decrypt(bytes(tampered), "owner:one")
    with pytest.raises(CredentialDecryptError):
        cipher.decrypt(blob[:20], "owner:one")
    with pytest.raises(CredentialDecryptError):
        cipher.decrypt(blob, "owner:two")
    with pytest.raises(CredentialDecryptError):
        CredentialCipher(os.urandom(32)).decrypt(blob, "owner:one")
    with pytest.raises(ValueError):
        CredentialCipher(b"short")
    assert CredentialCipher(key).decrypt(blob, "owner:one") == {"token": CANARY}


# --- the API ----------------------------------------------------------------------------------


async def test_create_list_test_delete_round_trip(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    created = await _create(api, headers)
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) >= {"id", "name", "kind", "created_at", "last_used_at"}
    assert "data" not in body and "ciphertext" not in body
    assert (body["name"], body["kind"], body["last_used_at"]) == ("github-bot", "bearer", None)

    listed = (await api.get("/api/credentials", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert listed["next_cursor"] is None

    tested = await api.post(f"/api/credentials/{body['id']}/test", headers=headers)
    assert tested.status_code == 200, tested.text
    assert (tested.json()["ok"], tested.json()["live"]) == (True, False)

    deleted = await api.delete(f"/api/credentials/{body['id']}", headers=headers)
    assert deleted.status_code == 204
    assert (await api.get("/api/credentials", headers=headers)).json()["items"] == []
    gone = await api.post(f"/api/credentials/{body['id']}/test", headers=headers)
    assert gone.status_code == 404
    actions = [row.action for row in await _rows(api, AuditLog)]
    assert {"credential.create", "credential.test", "credential.delete"} <= set(actions)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
async def test_every_kind_stores_and_tests(api: httpx.AsyncClient, kind: str) -> None:
    headers = await sign_up(api)
    created = await _create(api, headers, name=f"my-{kind}", kind=kind, data=EXAMPLES[kind])
    assert created.status_code == 201, created.text
    tested = await api.post(f"/api/credentials/{created.json()['id']}/test", headers=headers)
    assert tested.status_code == 200, tested.text
    # The example services are out of reach: a live test fails, without leaking the secret.
    assert tested.json()["ok"] is not tested.json()["live"]
    assert CANARY not in created.text + tested.text
    (row,) = await _rows(api, Credential)
    assert CANARY.encode() not in bytes(row.ciphertext)
    cipher = cipher_for(_app(api).state.settings)
    stored = cipher.decrypt(row.ciphertext, associated_data(row.owner_id, row.id))
    assert stored == json.loads(json.dumps(EXAMPLES[kind]))


async def test_the_secret_never_leaves_in_answers_rows_or_audit(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    texts: list[str] = []
    created = await _create(
        api, headers, data={"username": "ana", "password": CANARY}, kind="basic"
    )
    assert created.status_code == 201
    credential_id = created.json()["id"]
    texts.append(created.text)
    texts.append((await api.get("/api/credentials", headers=headers)).text)
    texts.append((await api.post(f"/api/credentials/{credential_id}/test", headers=headers)).text)
    # Errors must not echo the body either (FastAPI's own 422 would).
    failing: list[dict[str, Any]] = [
        {"kind": "bearer", "data": {"token": CANARY}},  # no name
        {"name": "x", "kind": "bearer", "data": {"token": CANARY}, "extra": CANARY},
        {"name": "x", "kind": "nope", "data": {"token": CANARY}},
        {"name": "x", "kind": "bearer", "data": {"token": CANARY, "other": CANARY}},
        {"name": "x", "kind": "bearer", "data": {"token": [CANARY]}},
        {"name": "x", "kind": "bearer", "data": [CANARY]},
        {"name": "x" * 101, "kind": "bearer", "data": {"token": CANARY}},
        {"name": "x", "kind": "slack", "data": {"webhook_url": f"http://{CANARY}"}},
        {"name": "x", "kind": "google_service_account", "data": {"service_account_json": CANARY}},
        {"name": "x", "kind": "smtp", "data": {"host": "h", "from": "a@b", "port": CANARY}},
    ]
    for body in failing:
        answer = await api.post("/api/credentials", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        texts.append(answer.text)
    broken = await api.post(
        "/api/credentials",
        content=f'{{"name": "x", "data": {{"token": "{CANARY}"',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    texts.append(broken.text)
    duplicate = await _create(
        api, headers, kind="basic", data={"username": "a", "password": CANARY}
    )
    assert duplicate.status_code == 409
    texts.append(duplicate.text)
    for text in texts:
        assert CANARY not in text

    (row,) = await _rows(api, Credential)
    assert CANARY.encode() not in bytes(row.ciphertext)
    audits = await _rows(api, AuditLog)
    assert audits
    for audit in audits:
        assert CANARY not in json.dumps(audit.details or {}) + audit.target


async def test_a_changed_secret_key_cannot_decrypt(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    email = f"key-{uuid.uuid4().hex[:8]}@example.com"
    headers = await sign_up(api, email)
    credential_id = (await _create(api, headers)).json()["id"]

    rotated = api_settings.model_copy(update={"flowpilot_secret_key": SecretStr("another-key")})
    app = create_app(rotated)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
            login = await other.post(
                "/api/auth/login", json={"email": email, "password": "correct horse battery"}
            )
            other_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            answer = await other.post(
                f"/api/credentials/{credential_id}/test", headers=other_headers
            )
    assert answer.status_code == 409
    assert "FLOWPILOT_SECRET_KEY" in answer.json()["detail"]
    assert CANARY not in answer.text
    # The original key still opens it.
    again = await api.post(f"/api/credentials/{credential_id}/test", headers=headers)
    assert again.json()["ok"] is True


async def test_a_ciphertext_moved_to_another_row_does_not_decrypt(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    first = (await _create(api, headers, name="first")).json()["id"]
    second = (await _create(api, headers, name="second", data={"token": "other"})).json()["id"]
    async with _app(api).state.sessions() as session:
        source = await session.get(Credential, uuid.UUID(first))
        target = await session.get(Credential, uuid.UUID(second))
        assert source is not None and target is not None
        target.ciphertext = source.ciphertext
        await session.commit()
    moved = await api.post(f"/api/credentials/{second}/test", headers=headers)
    assert moved.status_code == 409
    assert "cannot be decrypted" in moved.json()["detail"]
    assert (await api.post(f"/api/credentials/{first}/test", headers=headers)).json()["ok"]


async def test_the_stored_blob_opens_with_the_instance_key_and_its_row(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    await _create(api, headers, kind="smtp", data=EXAMPLES["smtp"])
    (row,) = await _rows(api, Credential)
    cipher = cipher_for(_app(api).state.settings)
    stored = cipher.decrypt(row.ciphertext, associated_data(row.owner_id, row.id))
    assert stored == EXAMPLES["smtp"]
    with pytest.raises(CredentialDecryptError):
        cipher.decrypt(row.ciphertext, associated_data(uuid.uuid4(), row.id))


async def test_other_users_credentials_are_invisible(api: httpx.AsyncClient) -> None:
    admin = await sign_up(api)  # the first account is the admin
    ana = await sign_up(api)
    bob = await sign_up(api)
    anas = (await _create(api, ana)).json()["id"]
    assert (await api.get("/api/credentials", headers=bob)).json()["items"] == []
    assert (await api.post(f"/api/credentials/{anas}/test", headers=bob)).status_code == 404
    assert (await api.delete(f"/api/credentials/{anas}", headers=bob)).status_code == 404
    unknown = uuid.uuid4()
    assert (await api.delete(f"/api/credentials/{unknown}", headers=bob)).status_code == 404
    # Bob may use the same name; names are unique per owner.
    assert (await _create(api, bob)).status_code == 201
    everyone = (await api.get("/api/credentials", headers=admin)).json()["items"]
    assert len(everyone) == 2
    assert len((await api.get("/api/credentials", headers=ana)).json()["items"]) == 1
    assert (await api.post(f"/api/credentials/{anas}/test", headers=ana)).json()["ok"]


async def test_viewers_may_list_but_not_change_or_test(api: httpx.AsyncClient) -> None:
    admin = await sign_up(api)
    viewer = await sign_up(api)
    changed = await api.patch(
        f"/api/users/{await user_id(api, viewer)}", json={"role": "viewer"}, headers=admin
    )
    assert changed.status_code == 200
    mine = (await _create(api, admin)).json()["id"]
    assert (await _create(api, viewer)).status_code == 403
    assert (await api.post(f"/api/credentials/{mine}/test", headers=viewer)).status_code == 403
    assert (await api.delete(f"/api/credentials/{mine}", headers=viewer)).status_code == 403
    assert (await api.get("/api/credentials", headers=viewer)).status_code == 200
    assert (await api.get("/api/credentials")).status_code == 401


async def test_bad_kinds_and_data_are_422_naming_the_field(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    unknown = await _create(api, headers, kind="ftp")
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"] == ["body", "kind"]
    missing = await _create(api, headers, kind="basic", data={"username": "ana"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "data", "password"]
    extra = await _create(api, headers, data={"token": "t", "tokne": "t"})
    assert ["body", "data", "tokne"] in [d["loc"] for d in extra.json()["detail"]]
    security = await _create(
        api, headers, kind="smtp", data={"host": "h", "from": "a@b.c", "security": "ssl"}
    )
    assert security.json()["detail"][0]["loc"] == ["body", "data", "security"]
    no_name = await api.post(
        "/api/credentials", json={"kind": "bearer", "data": {"token": "t"}}, headers=headers
    )
    assert no_name.status_code == 422
    assert no_name.json()["detail"][0]["loc"] == ["body", "name"]
    slack = await _create(api, headers, kind="slack", data={})
    assert slack.status_code == 422
    assert "bot_token" in slack.json()["detail"][0]["msg"]
    assert (await _rows(api, Credential)) == []


async def test_a_duplicate_name_is_409(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    assert (await _create(api, headers)).status_code == 201
    again = await _create(api, headers, kind="notion")
    assert again.status_code == 409
    assert "github-bot" in again.json()["detail"]


async def test_list_is_newest_first_and_paginated(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    ids = [(await _create(api, headers, name=f"c{n}")).json()["id"] for n in range(3)]
    first = (await api.get("/api/credentials?limit=2", headers=headers)).json()
    assert [item["id"] for item in first["items"]] == ids[::-1][:2]
    rest = await api.get(
        "/api/credentials", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    assert [item["id"] for item in rest.json()["items"]] == ids[:1]
    assert rest.json()["next_cursor"] is None
    kinds = (await api.get("/api/credentials/kinds", headers=headers)).json()
    assert set(kinds) == set(KINDS)
    assert "from" in kinds["smtp"]["properties"]
