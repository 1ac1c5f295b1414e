"""Every route the app serves has one explicit access policy, and each policy holds.

`POLICIES` names the policy of every (method, path) the app serves; a route added without an
entry, or an entry whose route is gone, fails `test_every_served_route_has_exactly_one_policy`.
The behaviour tests are driven by the table, so a new route is checked as soon as it is listed.

Also here: another user's ids are a 404 on every route that takes one, a deleted user's
credentials stop working, and path-suffix / encoding tricks reach no protected route without a
token. Tampered, expired, `alg: none`, wrong-key and made-up tokens are covered by
`tests/test_api_auth.py::test_tampered_expired_and_unsigned_tokens_are_401`, deactivated
accounts by `test_deactivated_user_token_stops_working` there, and the codec cookie's scope by
`tests/test_codec.py`.
"""

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from pydantic import SecretStr
from sqlmodel import select

from api.deps import CODEC_COOKIE
from api.main import create_app
from core.config import Settings
from core.models import User
from tests.support.api import admin_and_viewer, create_workflow, sign_up, simple_definition

Policy = Literal["public", "signed_in", "editor", "admin", "webhook_token", "codec"]
"""public: anyone. signed_in: any role, bearer token or API key. editor: viewers get 403.
admin: editors and viewers get 403. webhook_token: no bearer, the secret is in the path.
codec: any role, a bearer token/API key or the codec cookie (see api/routes/codec.py)."""

POLICIES: dict[tuple[str, str], Policy] = {
    # FastAPI's documentation and schema, and the probes operators scrape
    ("GET", "/openapi.json"): "public",
    ("GET", "/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    ("GET", "/redoc"): "public",
    ("GET", "/healthz"): "public",
    ("GET", "/readyz"): "public",
    ("GET", "/metrics"): "public",
    # signing in
    ("POST", "/api/auth/register"): "public",
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/logout"): "public",  # only clears the codec cookie
    ("GET", "/api/auth/me"): "signed_in",
    # a user's own API keys: viewers may script reads too
    ("GET", "/api/api-keys"): "signed_in",
    ("POST", "/api/api-keys"): "signed_in",
    ("DELETE", "/api/api-keys/{key_id}"): "signed_in",
    # administration
    ("GET", "/api/users"): "admin",
    ("PATCH", "/api/users/{user_id}"): "admin",
    ("GET", "/api/audit-logs"): "admin",
    # workflows
    ("GET", "/api/node-types"): "signed_in",
    ("POST", "/api/workflows/generate"): "editor",
    ("POST", "/api/workflows/validate"): "signed_in",  # changes nothing
    ("POST", "/api/workflows/test-node"): "editor",
    ("POST", "/api/workflows/dry-run"): "editor",
    ("GET", "/api/workflows"): "signed_in",
    ("POST", "/api/workflows"): "editor",
    ("GET", "/api/workflows/{workflow_id}"): "signed_in",
    ("PUT", "/api/workflows/{workflow_id}"): "editor",
    ("DELETE", "/api/workflows/{workflow_id}"): "editor",
    ("GET", "/api/workflows/{workflow_id}/versions"): "signed_in",
    ("POST", "/api/workflows/{workflow_id}/pause"): "editor",
    ("POST", "/api/workflows/{workflow_id}/resume"): "editor",
    ("GET", "/api/workflows/{workflow_id}/schedule"): "signed_in",
    ("POST", "/api/workflows/{workflow_id}/runs"): "editor",
    # runs
    ("GET", "/api/runs"): "signed_in",
    ("GET", "/api/runs/{run_id}"): "signed_in",
    ("GET", "/api/runs/{run_id}/events"): "signed_in",
    ("GET", "/api/runs/{run_id}/output"): "signed_in",
    ("GET", "/api/runs/{run_id}/nodes/{node_id}/{part}"): "signed_in",
    ("POST", "/api/runs/{run_id}/retry"): "editor",
    ("POST", "/api/runs/{run_id}/cancel"): "editor",
    ("POST", "/api/runs/{run_id}/approve"): "editor",
    ("POST", "/api/runs/{run_id}/explain"): "editor",
    # credentials
    ("GET", "/api/credentials/kinds"): "signed_in",
    ("GET", "/api/credentials"): "signed_in",
    ("POST", "/api/credentials"): "editor",
    ("DELETE", "/api/credentials/{credential_id}"): "editor",
    ("POST", "/api/credentials/{credential_id}/test"): "editor",
    # the rest
    ("GET", "/api/templates"): "signed_in",
    ("GET", "/api/instance"): "signed_in",
    ("POST", "/api/hooks/{token}"): "webhook_token",
    ("POST", "/api/codec/encode"): "codec",
    ("POST", "/api/codec/decode"): "codec",
}

Caller = Literal["anonymous", "viewer", "editor", "admin"]
ALLOWED = "allowed"
"""Past the policy: whatever the route then answers, never 401/403 and never a 5xx."""
EXPECTED: dict[Policy, dict[Caller, int | str]] = {
    "public": {"anonymous": ALLOWED, "viewer": ALLOWED, "editor": ALLOWED, "admin": ALLOWED},
    "webhook_token": {"anonymous": ALLOWED, "viewer": ALLOWED, "editor": ALLOWED, "admin": ALLOWED},
    "signed_in": {"anonymous": 401, "viewer": ALLOWED, "editor": ALLOWED, "admin": ALLOWED},
    "codec": {"anonymous": 401, "viewer": ALLOWED, "editor": ALLOWED, "admin": ALLOWED},
    "editor": {"anonymous": 401, "viewer": 403, "editor": ALLOWED, "admin": ALLOWED},
    "admin": {"anonymous": 401, "viewer": 403, "editor": 403, "admin": ALLOWED},
}
OWNED_ID_PARAMS = ("workflow_id", "run_id", "credential_id", "key_id")
"""Path parameters naming something a user owns: another user's is a 404."""
_PARAM = re.compile(r"\{(\w+)\}")


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route, through included routers; HEAD rides on GET.
    The built web app is the router's fallback for unmatched paths, not a route."""
    served = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD" and route.path is not None:
                served.add((method, route.path))
    return served


def fill(path: str, ids: dict[str, str] | None = None) -> str:
    """`path` with each {param} replaced by its entry in `ids`, else by a random UUID."""
    ids = ids or {}
    return _PARAM.sub(lambda match: ids.get(match.group(1), str(uuid.uuid4())), path)


def _app(api: httpx.AsyncClient) -> FastAPI:
    return api._transport.app  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def api_settings(api_settings: Settings) -> Settings:
    """A model key, so generate/explain reach their own checks instead of a 503 "not
    configured" (no model is ever called: every request here stops before that)."""
    return api_settings.model_copy(
        update={"openai_api_key": SecretStr("sk-test"), "openai_base_url": "http://127.0.0.1:9"}
    )


async def callers(api: httpx.AsyncClient) -> dict[Caller, dict[str, str]]:
    admin, viewer = await admin_and_viewer(api)
    editor = await sign_up(api)
    api.cookies.clear()  # signing in left a codec cookie in the client: callers use headers
    return {"anonymous": {}, "viewer": viewer, "editor": editor, "admin": admin}


async def call(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = {}
    return await api.request(method, path, headers=headers, json=body)


def test_every_served_route_has_exactly_one_policy(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
            data_dir=tmp_path,
            redis_url=None,
        )
    )
    served = served_routes(app)

    assert sorted(served - POLICIES.keys()) == [], "routes without a policy in POLICIES"
    assert sorted(POLICIES.keys() - served) == [], "POLICIES names routes the app no longer has"


@pytest.mark.parametrize("policy", sorted(EXPECTED))
async def test_each_policy_lets_in_exactly_the_roles_it_names(
    api: httpx.AsyncClient, policy: Policy
) -> None:
    people = await callers(api)
    routes = [route for route, named in POLICIES.items() if named == policy]
    wrong = []
    for method, template in routes:
        for caller, headers in people.items():
            answer = await call(api, method, fill(template), headers)
            expected = EXPECTED[policy][caller]
            if expected == ALLOWED:
                # readiness is 503 by contract here: the api fixture has no Temporal
                server_error = answer.status_code >= 500 and template != "/readyz"
                if answer.status_code in (401, 403) or server_error:
                    wrong.append((method, template, caller, answer.status_code, answer.text[:120]))
            elif answer.status_code != expected:
                wrong.append((method, template, caller, answer.status_code, answer.text[:120]))
    assert wrong == []


async def test_codec_routes_take_the_codec_cookie_of_any_role(api: httpx.AsyncClient) -> None:
    _admin, viewer = await admin_and_viewer(api)
    api.cookies.clear()
    await api.post("/api/auth/logout")
    email = (await api.get("/api/auth/me", headers=viewer)).json()["email"]
    login = await api.post(
        "/api/auth/login", json={"email": email, "password": "correct horse battery"}
    )
    assert login.status_code == 200, login.text
    assert CODEC_COOKIE in api.cookies
    for method, template in POLICIES:
        if POLICIES[(method, template)] == "codec":
            answer = await api.request(method, template, json={"payloads": []})
            assert answer.status_code == 200, (template, answer.text)
    # the cookie is the codec's credential only
    assert (await api.get("/api/auth/me")).status_code == 401


async def test_a_viewer_is_refused_before_their_own_ids_are_looked_up(
    api: httpx.AsyncClient,
) -> None:
    """A viewer who owns things (made while an editor) still cannot change them: 403, not
    404 or 2xx, on every editor route naming them, while reading them works."""
    admin = await sign_up(api)
    owner = await sign_up(api)
    workflow = await create_workflow(api, owner, simple_definition())
    credential = await api.post(
        "/api/credentials",
        json={"name": "bot", "kind": "bearer", "data": {"token": "t"}},
        headers=owner,
    )
    assert credential.status_code == 201, credential.text
    me = (await api.get("/api/auth/me", headers=owner)).json()
    demoted = await api.patch(f"/api/users/{me['id']}", json={"role": "viewer"}, headers=admin)
    assert demoted.status_code == 200, demoted.text
    ids = {"workflow_id": workflow["id"], "credential_id": credential.json()["id"]}

    checked = []
    for (method, template), policy in POLICIES.items():
        names = set(_PARAM.findall(template))
        if policy != "editor" or not names or not names <= ids.keys():
            continue
        answer = await call(api, method, fill(template, ids), owner)
        assert answer.status_code == 403, (method, template, answer.text)
        checked.append(template)
    assert len(checked) >= 7
    assert (await api.get(f"/api/workflows/{workflow['id']}", headers=owner)).status_code == 200
    assert (await api.get(f"/api/workflows/{workflow['id']}", headers=admin)).status_code == 200


async def test_another_users_ids_are_404_on_every_route_that_takes_one(
    live_api: httpx.AsyncClient,
) -> None:
    api = live_api
    await sign_up(api)  # the admin, who sees everything, is neither of the two below
    owner = await sign_up(api)
    other = await sign_up(api)
    workflow = await create_workflow(api, owner, simple_definition())
    credential = await api.post(
        "/api/credentials",
        json={"name": "bot", "kind": "bearer", "data": {"token": "t"}},
        headers=owner,
    )
    key = await api.post("/api/api-keys", json={"name": "script"}, headers=owner)
    run = await api.post(f"/api/workflows/{workflow['id']}/runs", json={}, headers=owner)
    assert credential.status_code == key.status_code == run.status_code == 201, run.text
    ids = {
        "workflow_id": workflow["id"],
        "run_id": run.json()["id"],
        "credential_id": credential.json()["id"],
        "key_id": key.json()["id"],
        "node_id": "greet",
        "part": "output",
    }
    bodies: dict[str, Any] = {
        "/api/workflows/{workflow_id}": {"definition": simple_definition("Taken")},
        "/api/runs/{run_id}/approve": {"node_id": "greet", "approved": True},
    }

    checked = set()
    for (method, template), policy in POLICIES.items():
        names = set(_PARAM.findall(template))
        if not names & set(OWNED_ID_PARAMS) or policy in ("public", "webhook_token", "admin"):
            continue
        body = bodies.get(template) if method != "DELETE" else None
        answer = await call(api, method, fill(template, ids), other, body)
        assert answer.status_code == 404, (method, template, answer.text)
        checked.add(template)
    # ids in the body are scoped the same way
    generate = await api.post(
        "/api/workflows/generate",
        json={"prompt": "make it louder", "workflow_id": ids["workflow_id"]},
        headers=other,
    )
    assert generate.status_code == 404, generate.text

    named = {name for template in checked for name in _PARAM.findall(template)}
    assert named & set(OWNED_ID_PARAMS) == set(OWNED_ID_PARAMS)
    for listing in ("/api/workflows", "/api/runs", "/api/credentials"):
        assert (await api.get(listing, headers=other)).json()["items"] == [], listing
    assert (await api.get("/api/api-keys", headers=other)).json() == []
    # nothing of the owner's was touched by the other user's deletes and changes
    mine = await api.get(f"/api/workflows/{ids['workflow_id']}", headers=owner)
    assert mine.status_code == 200 and mine.json()["name"] == "Greeting"
    assert (await api.get(f"/api/runs/{ids['run_id']}", headers=owner)).status_code == 200
    assert len((await api.get("/api/credentials", headers=owner)).json()["items"]) == 1
    with_key = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await api.get("/api/auth/me", headers=with_key)).status_code == 200


async def test_a_deleted_users_token_api_key_and_codec_cookie_are_401(
    api: httpx.AsyncClient,
) -> None:
    await sign_up(api)
    token = await sign_up(api)
    cookie = api.cookies[CODEC_COOKIE]
    api.cookies.clear()
    created = await api.post("/api/api-keys", json={"name": "script"}, headers=token)
    api_key = {"Authorization": f"Bearer {created.json()['key']}"}
    me = (await api.get("/api/auth/me", headers=token)).json()
    # No route deletes an account (admins deactivate); an operator may still delete the row.
    async with _app(api).state.sessions() as session:
        user = (await session.exec(select(User).where(User.id == uuid.UUID(me["id"])))).one()
        await session.delete(user)
        await session.commit()

    assert (await api.get("/api/auth/me", headers=token)).status_code == 401
    assert (await api.get("/api/auth/me", headers=api_key)).status_code == 401
    api.cookies.set(CODEC_COOKIE, cookie, path="/api/codec")
    assert (await api.post("/api/codec/decode", json={"payloads": []})).status_code == 401


# -- path tricks ----------------------------------------------------------------------------

PROTECTED = ("/api/auth/me", "/api/workflows", "/api/users", "/api/credentials")


def tricks(path: str) -> list[str]:
    """Request targets a client might send hoping a protected route answers without auth."""
    head, _, last = path.rpartition("/")
    return [
        path + "/",  # trailing slash: 307 to the canonical path (which is 401)
        path + ";jsessionid=x",  # matrix parameter: 404
        path + ";/",
        path + ".json",
        path + "%2f",
        path + "/.",
        path + "/..",
        path + "/%2e%2e/",
        f"{head}/%2e%2e/{head.rsplit('/', 1)[-1]}/{last}",
        f"/healthz/../{path.lstrip('/')}",
        f"/docs/%2e%2e{path}",
        "/" + path,  # double slash at the start: 404
        path.replace("/api/", "/api//"),
        path.upper(),
        path.replace("/api/", "/API/"),
        path.replace("/api/", "/%61pi/"),  # decoded to the same route: 401
        "/api/%2561" + path[len("/api/a") :],  # double encoding: not decoded twice, 404
        path.replace("/api/", "/api%2f"),  # decoded to the same route: 401
        path + "%00",
        path + "%20",
        path + "#fragment",  # the fragment is not part of the path: 401
        path + "%23/../../healthz",
        path + "?/../../healthz",  # a query is not a path: 401
        path + "?access_token=x&Authorization=Bearer+x",
        path + "\\",
        path.replace("/", "\\"),
    ]


async def raw_request(app: FastAPI, method: str, target: str) -> tuple[int, bytes]:
    """Send `target` as the request line carries it, decoded the way uvicorn hands it to the
    app (percent-decoded path, raw_path kept, no dot-segment removal) — httpx would
    normalise it first."""
    raw_path, _, query = target.partition("?")
    raw_path = raw_path.partition("#")[0]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "query_string": query.partition("#")[0].encode(),
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    messages: list[dict[str, Any]] = []
    requested = False
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await answered.wait()  # the client stays connected until the answer is sent
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    await app(scope, receive, send)
    start = next(message for message in messages if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in messages[1:])
    return start["status"], body


async def test_path_suffix_and_encoding_tricks_never_reach_a_protected_route(
    api: httpx.AsyncClient,
) -> None:
    app = _app(api)
    index_file = app.state.settings.frontend_dir / "index.html"
    index = index_file.read_bytes() if index_file.is_file() else None
    answers = {}
    for path in PROTECTED:
        for target in tricks(path):
            status, body = await raw_request(app, "GET", target)
            answers[target] = status
            # A 200 may only be the web app's page (served for non-API paths when the
            # frontend is built), which holds no data of anyone's.
            if status == 200:
                assert body == index, target
            else:
                assert status in (307, 401, 404, 405), (target, status, body[:200])
    # What they answered (the same for each protected path): percent-encoded letters and a
    # %2f decode to the route itself, and a fragment or a query is no part of the path: 401.
    # A trailing slash (or %2f) is a 307 to the canonical path. Matrix parameters, dot
    # segments (never resolved: the router sees them literally), double slashes, double
    # encoding, NUL, .json and backslashes match nothing: 404 ("/api/users/." is
    # "/api/users/{user_id}", PATCH only: 405). Upper-case "/API/..." and "\\api\\..."
    # are API paths to the web app's fallback too: 404, not its page.
    assert answers["/%61pi/auth/me"] == answers["/api%2fauth/me"] == 401
    assert answers["/api/auth/me#fragment"] == answers["/api/auth/me?/../../healthz"] == 401
    assert answers["/api/auth/me/"] == 307
    assert answers["/API/auth/me"] == answers["/API/AUTH/ME"] == answers["\\api\\auth\\me"] == 404
    assert answers["/api/auth/%2e%2e/auth/me"] == answers["/api/auth/me;jsessionid=x"] == 404
