"""Accounts, tokens and roles through the real app, on PostgreSQL and on SQLite."""

import asyncio
import base64
import json
import uuid
from datetime import timedelta

import httpx
import jwt

from api.security import AccessTokens, create_access_token
from tests.support.api import sign_up, user_id


async def test_first_account_is_admin_and_later_ones_are_editors(api: httpx.AsyncClient) -> None:
    first = await sign_up(api)
    second = await sign_up(api)
    assert (await api.get("/api/auth/me", headers=first)).json()["role"] == "admin"
    me = (await api.get("/api/auth/me", headers=second)).json()
    assert me["role"] == "editor"
    assert "password_hash" not in me


async def test_simultaneous_first_registrations_make_exactly_one_admin(
    api: httpx.AsyncClient,
) -> None:
    accounts = await asyncio.gather(*(sign_up(api) for _ in range(5)))

    roles = [
        (await api.get("/api/auth/me", headers=headers)).json()["role"] for headers in accounts
    ]
    assert sorted(roles) == ["admin"] + ["editor"] * 4


async def test_register_refuses_a_taken_email_and_a_short_password(api: httpx.AsyncClient) -> None:
    await sign_up(api, "ana@example.com")
    again = await api.post(
        "/api/auth/register", json={"email": "ANA@example.com", "password": "another password"}
    )
    assert again.status_code == 409
    short = await api.post("/api/auth/register", json={"email": "b@example.com", "password": "x"})
    assert short.status_code == 422


async def test_login_with_a_wrong_password_or_unknown_email_is_401(api: httpx.AsyncClient) -> None:
    await sign_up(api, "ana@example.com")
    wrong = await api.post(
        "/api/auth/login", json={"email": "ana@example.com", "password": "not the password"}
    )
    unknown = await api.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "whatever1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_tampered_expired_and_unsigned_tokens_are_401(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    token = headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other = uuid.uuid4()
    forged_payload = (
        base64.urlsafe_b64encode(json.dumps({**claims, "sub": str(other)}).encode())
        .rstrip(b"=")
        .decode()
    )
    unsigned = jwt.encode({**claims, "sub": str(other)}, key=None, algorithm="none")  # type: ignore[arg-type]
    app = api._transport.app  # type: ignore[attr-defined]
    user = uuid.UUID(claims["sub"])
    expired = app.state.access_tokens.issue(user, timedelta(seconds=-5))
    wrong_key = create_access_token(user, b"k" * 32, timedelta(minutes=5))
    for bad in (
        f"{header}.{forged_payload}.{signature}",
        unsigned,
        expired,
        wrong_key,
        "not-a-token",
        "fp_not-a-real-key",
    ):
        answer = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {bad}"})
        assert answer.status_code == 401, bad
    assert (await api.get("/api/auth/me")).status_code == 401


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    now = [1_000_000.0]
    tokens = AccessTokens(b"k" * 32, clock=lambda: now[0], remember=2)
    user = uuid.uuid4()
    token = create_access_token(user, tokens.key, timedelta(hours=1))
    # the real clock signs the token; move the fake one to the token's own issue time
    now[0] = jwt.decode(token, tokens.key, algorithms=["HS256"])["iat"]

    assert tokens.user_id(token) == user
    now[0] += 3599
    assert tokens.user_id(token) == user
    now[0] += 1
    assert tokens.user_id(token) is None
    assert tokens.user_id(token[:-2] + "xx") is None


def test_remembered_tokens_are_bounded() -> None:
    tokens = AccessTokens(b"k" * 32, remember=2)
    users = [uuid.uuid4() for _ in range(3)]
    issued = [tokens.issue(user, timedelta(minutes=5)) for user in users]

    assert [tokens.user_id(token) for token in issued] == users
    assert len(tokens._verified) == 2
    assert tokens.user_id(issued[0]) == users[0]


async def test_admin_can_change_roles_and_a_viewer_cannot_administer(
    api: httpx.AsyncClient,
) -> None:
    admin = await sign_up(api)
    other = await sign_up(api)
    other_id = await user_id(api, other)
    changed = await api.patch(f"/api/users/{other_id}", json={"role": "viewer"}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["role"] == "viewer"
    assert (await api.get("/api/users", headers=other)).status_code == 403
    self_demote = await api.patch(
        f"/api/users/{await user_id(api, admin)}", json={"role": "viewer"}, headers=admin
    )
    assert self_demote.status_code == 400


async def test_deactivated_user_token_stops_working(api: httpx.AsyncClient) -> None:
    admin = await sign_up(api)
    other = await sign_up(api)
    other_id = await user_id(api, other)
    await api.patch(f"/api/users/{other_id}", json={"is_active": False}, headers=admin)
    assert (await api.get("/api/auth/me", headers=other)).status_code == 401


async def test_health_readiness_and_metrics(live_api: httpx.AsyncClient) -> None:
    assert (await live_api.get("/healthz")).json() == {"status": "ok"}
    ready = await live_api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "temporal": "ok"}
    metrics = await live_api.get("/metrics")
    assert metrics.status_code == 200
    assert 'flowpilot_http_request_seconds_count{method="GET",route="/readyz",status="200"}' in (
        metrics.text
    )
    assert 'flowpilot_runs{status="succeeded"} 0.0' in metrics.text


async def test_readiness_is_503_when_temporal_is_unreachable(api: httpx.AsyncClient) -> None:
    app = api._transport.app  # type: ignore[attr-defined]
    app.state.settings = app.state.settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["temporal"].startswith("error")


async def test_validation_errors_never_echo_what_was_sent(api: httpx.AsyncClient) -> None:
    secret = "hunter2-canary-secret"
    answer = await api.post("/api/auth/login", json={"password": secret, "extra": secret})
    assert answer.status_code == 422
    assert secret not in answer.text
    assert {"loc", "msg", "type"} == set(answer.json()["detail"][0])


async def test_api_keys_act_as_their_user_until_revoked(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    other = await sign_up(api)
    created = await api.post("/api/api-keys", json={"name": "ci"}, headers=headers)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("fp_")
    with_key = {"Authorization": f"Bearer {key}"}
    me = await api.get("/api/auth/me", headers=with_key)
    assert me.json()["id"] == await user_id(api, headers)
    listed = await api.get("/api/api-keys", headers=headers)
    assert key not in listed.text
    assert listed.json()[0]["prefix"] == key[:8]
    assert listed.json()[0]["last_used_at"] is not None
    key_id = created.json()["id"]
    assert (await api.delete(f"/api/api-keys/{key_id}", headers=other)).status_code == 404
    assert (await api.delete(f"/api/api-keys/{key_id}", headers=headers)).status_code == 204
    assert (await api.get("/api/auth/me", headers=with_key)).status_code == 401


async def test_admins_read_and_filter_the_audit_log_and_others_cannot(
    api: httpx.AsyncClient,
) -> None:
    admin = await sign_up(api)
    editor = await sign_up(api)
    editor_id = await user_id(api, editor)
    logins = await api.get(
        "/api/audit-logs", params={"action": "user.login", "actor_id": editor_id}, headers=admin
    )
    assert logins.status_code == 200
    [entry] = logins.json()["items"]
    assert entry["target"] == f"user:{editor_id}"
    assert entry["ip"]
    assert (await api.get("/api/audit-logs", headers=editor)).status_code == 403
