"""Workflows through the real app, on PostgreSQL and on SQLite: create, read, list, update
into immutable versions, delete, validation, scoping to the owner, roles, pagination,
the node catalog, bad input, and the audit trail."""

import asyncio
import base64
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from core.models import AuditLog, WorkflowVersion
from tests.support.api import admin_and_viewer, sign_up, simple_definition, user_id

WEBHOOK_URL = re.compile(r"^http://localhost:8000/api/hooks/([A-Za-z0-9_-]{32,64})$")
NOT_FOUND = {"detail": "workflow not found"}
VIEWER_FORBIDDEN = {"detail": "viewers cannot change or run anything"}


# --- helpers ---------------------------------------------------------------------------


def app_of(api: httpx.AsyncClient) -> Any:
    return api._transport.app  # type: ignore[attr-defined]


def backend(api: httpx.AsyncClient) -> str:
    return (
        "sqlite" if app_of(api).state.settings.database_url.startswith("sqlite") else "postgresql"
    )


@asynccontextmanager
async def lenient(api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the same app that answers a crash with its 500 instead of raising it,
    so that "never a 500" tests fail with the status they got."""
    transport = httpx.ASGITransport(app=app_of(api), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def instant(text: str) -> datetime:
    """A timestamp from the API as an aware datetime (a zone-less one is taken as UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def webhook_definition(name: str = "Hooked", **fields: Any) -> dict[str, Any]:
    return simple_definition(name, trigger={"type": "webhook"}, **fields)


def broken_definition() -> dict[str, Any]:
    """A definition whose only node needs a node that does not exist."""
    definition = simple_definition("Broken")
    definition["nodes"][0]["needs"] = ["ghost"]
    return definition


async def create(
    api: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = await api.post(
        "/api/workflows", json={"definition": definition or simple_definition()}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def stored_versions(api: httpx.AsyncClient, workflow_id: str) -> list[WorkflowVersion]:
    async with app_of(api).state.sessions() as session:
        query = select(WorkflowVersion).where(WorkflowVersion.workflow_id == uuid.UUID(workflow_id))
        return list((await session.exec(query)).all())


async def audit_rows(api: httpx.AsyncClient) -> list[AuditLog]:
    async with app_of(api).state.sessions() as session:
        return list((await session.exec(select(AuditLog).order_by(col(AuditLog.created_at)))).all())


async def list_all(api: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = await api.get("/api/workflows", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


# --- create, read, list ----------------------------------------------------------------


async def test_create_answers_201_with_version_1_the_definition_as_sent_and_a_manual_trigger(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    sent = simple_definition("Greeting", description="Says hi")
    answer = await api.post("/api/workflows", json={"definition": sent}, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert uuid.UUID(body["id"])
    assert body["name"] == "Greeting"
    assert body["description"] == "Says hi"
    assert body["version"] == 1
    assert body["definition"] == sent
    assert body["trigger"] == {"type": "manual"}
    assert body["webhook_url"] is None
    assert body["owner_id"] == await user_id(api, headers)
    assert body["created_at"] and body["updated_at"]


async def test_a_created_workflow_reads_back_equal_and_is_in_the_owners_list(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers)
    timestamps = ("created_at", "updated_at")
    read = await api.get(f"/api/workflows/{created['id']}", headers=headers)
    assert read.status_code == 200, read.text
    without_times = {k: v for k, v in created.items() if k not in timestamps}
    assert {k: v for k, v in read.json().items() if k not in timestamps} == without_times
    listed = await list_all(api, headers)
    assert [{k: v for k, v in item.items() if k not in timestamps} for item in listed] == [
        without_times
    ]


async def test_timestamps_read_back_exactly_as_created_with_their_timezone(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers)
    read = (await api.get(f"/api/workflows/{created['id']}", headers=headers)).json()
    listed = await list_all(api, headers)
    assert read == created
    assert listed == [created]
    assert created["created_at"].endswith(("Z", "+00:00"))


async def test_a_webhook_trigger_gets_a_url_that_survives_updates_and_goes_when_made_manual(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers, webhook_definition())
    assert created["trigger"] == {"type": "webhook"}
    match = WEBHOOK_URL.match(created["webhook_url"] or "")
    assert match, created["webhook_url"]
    assert created["webhook_url"].endswith(f"/api/hooks/{match.group(1)}")
    other = await create(api, headers, webhook_definition("Another"))
    assert other["webhook_url"] != created["webhook_url"]

    path = f"/api/workflows/{created['id']}"
    renamed = await api.put(
        path, json={"definition": webhook_definition("Hooked again")}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == 2
    assert renamed.json()["name"] == "Hooked again"
    assert renamed.json()["webhook_url"] == created["webhook_url"]
    assert (await api.get(path, headers=headers)).json()["webhook_url"] == created["webhook_url"]

    manual = await api.put(path, json={"definition": simple_definition()}, headers=headers)
    assert manual.status_code == 200, manual.text
    assert manual.json()["trigger"] == {"type": "manual"}
    assert manual.json()["webhook_url"] is None
    assert (await api.get(path, headers=headers)).json()["webhook_url"] is None

    again = await api.put(path, json={"definition": webhook_definition()}, headers=headers)
    assert again.status_code == 200, again.text
    assert WEBHOOK_URL.match(again.json()["webhook_url"] or "")
    assert again.json()["webhook_url"] != created["webhook_url"], "an old hook URL came back"


# --- validation ------------------------------------------------------------------------


async def test_an_invalid_definition_is_422_naming_node_and_field_and_is_not_saved(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    answer = await api.post(
        "/api/workflows", json={"definition": broken_definition()}, headers=headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "detail": [{"node": "greet", "field": "needs", "message": "unknown node 'ghost'"}]
    }
    typo = simple_definition()
    typo["nodes"][0]["type"] = "transfrom"
    answer = await api.post("/api/workflows", json={"definition": typo}, headers=headers)
    assert answer.status_code == 422, answer.text
    [issue] = answer.json()["detail"]
    assert (issue["node"], issue["field"]) == ("greet", "type")
    assert "unknown node type 'transfrom'" in issue["message"]
    assert "did you mean 'transform'?" in issue["message"]
    assert await list_all(api, headers) == []


async def test_an_invalid_update_is_422_and_keeps_the_current_version(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers)
    path = f"/api/workflows/{created['id']}"
    answer = await api.put(path, json={"definition": broken_definition()}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"] == [
        {"node": "greet", "field": "needs", "message": "unknown node 'ghost'"}
    ]
    read = (await api.get(path, headers=headers)).json()
    assert read["version"] == 1
    assert read["definition"] == created["definition"]
    versions = (await api.get(f"{path}/versions", headers=headers)).json()
    assert [v["version"] for v in versions] == [1]


async def test_validate_reports_every_problem_of_a_bad_definition_and_none_of_a_good_one(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    bad = await api.post(
        "/api/workflows/validate", json={"definition": broken_definition()}, headers=headers
    )
    assert bad.status_code == 200, bad.text
    assert bad.json() == {
        "valid": False,
        "errors": [{"node": "greet", "field": "needs", "message": "unknown node 'ghost'"}],
    }
    good = await api.post(
        "/api/workflows/validate", json={"definition": simple_definition()}, headers=headers
    )
    assert good.status_code == 200, good.text
    assert good.json() == {"valid": True, "errors": []}
    assert await list_all(api, headers) == [], "validate must not save anything"


@pytest.mark.parametrize("definition", [[], "a string", 42, None, True])
async def test_validate_answers_invalid_for_a_definition_that_is_not_an_object(
    api: httpx.AsyncClient, definition: Any
) -> None:
    headers = await sign_up(api)
    async with lenient(api) as client:
        answer = await client.post(
            "/api/workflows/validate", json={"definition": definition}, headers=headers
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "valid": False,
        "errors": [{"node": None, "field": "", "message": "a definition must be a JSON object"}],
    }


async def test_validate_needs_a_definition_and_a_signed_in_user(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    missing = await api.post("/api/workflows/validate", json={}, headers=headers)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "definition"]
    anonymous = await api.post("/api/workflows/validate", json={"definition": simple_definition()})
    assert anonymous.status_code == 401
    assert anonymous.json() == {"detail": "not authenticated"}


# --- versions --------------------------------------------------------------------------


async def test_update_creates_version_2_and_version_1_stays_retrievable(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    me = await user_id(api, headers)
    first = simple_definition("First")
    created = await create(api, headers, first)
    path = f"/api/workflows/{created['id']}"
    second = simple_definition("Second", description="changed")
    second["nodes"][0]["params"]["value"] = "hello {{ inputs.who }}"
    updated = await api.put(path, json={"definition": second}, headers=headers)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["id"] == created["id"]
    assert body["version"] == 2
    assert body["name"] == "Second"
    assert body["description"] == "changed"
    assert body["definition"] == second
    assert instant(body["created_at"]) == instant(created["created_at"])

    read = (await api.get(path, headers=headers)).json()
    assert (read["version"], read["definition"]) == (2, second)

    versions = await api.get(f"{path}/versions", headers=headers)
    assert versions.status_code == 200, versions.text
    history = versions.json()
    assert [v["version"] for v in history] == [2, 1]
    assert [v["definition"] for v in history] == [second, first]
    assert [v["created_by"] for v in history] == [me, me]
    assert instant(history[0]["created_at"]) >= instant(history[1]["created_at"])


# --- scoping ---------------------------------------------------------------------------


async def test_another_user_gets_404_on_every_route_of_your_workflow_and_cannot_list_it(
    api: httpx.AsyncClient,
) -> None:
    await sign_up(api)  # the admin, so that the next two are ordinary editors
    owner = await sign_up(api)
    stranger = await sign_up(api)
    created = await create(api, owner)
    path = f"/api/workflows/{created['id']}"
    attempts = [
        await api.get(path, headers=stranger),
        await api.put(path, json={"definition": simple_definition("Mine")}, headers=stranger),
        await api.delete(path, headers=stranger),
        await api.get(f"{path}/versions", headers=stranger),
    ]
    assert [a.status_code for a in attempts] == [404, 404, 404, 404]
    assert all(a.json() == NOT_FOUND for a in attempts)
    assert await list_all(api, stranger) == []
    read = (await api.get(path, headers=owner)).json()
    assert (read["version"], read["name"]) == (1, created["name"]), "the stranger changed it"


async def test_an_admin_sees_and_reads_everyones_workflows(api: httpx.AsyncClient) -> None:
    admin = await sign_up(api)
    alice = await sign_up(api)
    bob = await sign_up(api)
    mine = await create(api, admin, simple_definition("Admin's"))
    alices = await create(api, alice, simple_definition("Alice's"))
    bobs = await create(api, bob, simple_definition("Bob's"))
    assert [w["id"] for w in await list_all(api, admin)] == [bobs["id"], alices["id"], mine["id"]]
    assert [w["id"] for w in await list_all(api, alice)] == [alices["id"]]
    read = await api.get(f"/api/workflows/{alices['id']}", headers=admin)
    assert read.status_code == 200, read.text
    assert read.json()["owner_id"] == await user_id(api, alice)
    assert read.json()["definition"] == alices["definition"]
    versions = await api.get(f"/api/workflows/{bobs['id']}/versions", headers=admin)
    assert versions.status_code == 200
    assert [v["version"] for v in versions.json()] == [1]


async def test_an_unknown_id_is_404_and_a_malformed_id_is_422(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    write = {"definition": simple_definition()}
    async with lenient(api) as client:
        for path in (f"/api/workflows/{uuid.uuid4()}", "/api/workflows/not-a-uuid"):
            answers = [
                await client.get(path, headers=headers),
                await client.put(path, json=write, headers=headers),
                await client.delete(path, headers=headers),
                await client.get(f"{path}/versions", headers=headers),
            ]
            expected = 422 if path.endswith("not-a-uuid") else 404
            assert [a.status_code for a in answers] == [expected] * 4, path
            for answer in answers:
                if expected == 404:
                    assert answer.json() == NOT_FOUND
                else:
                    assert answer.json()["detail"][0]["loc"] == ["path", "workflow_id"]


async def test_workflows_need_a_signed_in_user(api: httpx.AsyncClient) -> None:
    for answer in (
        await api.get("/api/workflows"),
        await api.post("/api/workflows", json={"definition": simple_definition()}),
        await api.get("/api/node-types"),
        await api.get("/api/workflows", headers={"Authorization": "Bearer nonsense"}),
    ):
        assert answer.status_code == 401
        assert "detail" in answer.json()


# --- roles -----------------------------------------------------------------------------


async def test_a_viewer_cannot_create_change_or_delete_but_can_read(
    api: httpx.AsyncClient,
) -> None:
    admin, viewer = await admin_and_viewer(api)
    theirs = await create(api, admin)
    write = {"definition": simple_definition()}
    refused = [
        await api.post("/api/workflows", json=write, headers=viewer),
        await api.put(f"/api/workflows/{theirs['id']}", json=write, headers=viewer),
        await api.delete(f"/api/workflows/{theirs['id']}", headers=viewer),
        await api.put(f"/api/workflows/{uuid.uuid4()}", json=write, headers=viewer),
        await api.delete(f"/api/workflows/{uuid.uuid4()}", headers=viewer),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert all(r.json() == VIEWER_FORBIDDEN for r in refused)

    own = await api.get("/api/workflows", headers=viewer)
    assert own.status_code == 200
    assert own.json() == {"items": [], "next_cursor": None}
    node_types = await api.get("/api/node-types", headers=viewer)
    assert node_types.status_code == 200
    assert {"http.request", "transform"} <= {t["type"] for t in node_types.json()}
    checked = await api.post("/api/workflows/validate", json=write, headers=viewer)
    assert checked.json() == {"valid": True, "errors": []}
    read = (await api.get(f"/api/workflows/{theirs['id']}", headers=admin)).json()
    assert read["version"] == 1, "the viewer changed the workflow"


# --- delete ----------------------------------------------------------------------------


async def test_delete_answers_204_then_the_workflow_and_its_versions_are_gone(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers)
    kept = await create(api, headers, simple_definition("Kept"))
    path = f"/api/workflows/{created['id']}"
    await api.put(path, json={"definition": simple_definition("v2")}, headers=headers)
    assert len(await stored_versions(api, created["id"])) == 2

    deleted = await api.delete(path, headers=headers)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert (await api.get(path, headers=headers)).status_code == 404
    assert (await api.get(f"{path}/versions", headers=headers)).json() == NOT_FOUND
    assert await stored_versions(api, created["id"]) == []
    assert [w["id"] for w in await list_all(api, headers)] == [kept["id"]]
    assert len(await stored_versions(api, kept["id"])) == 1
    again = await api.delete(path, headers=headers)
    assert again.status_code == 404
    assert again.json() == NOT_FOUND


# --- pagination ------------------------------------------------------------------------


async def test_the_list_pages_newest_first_and_the_cursors_visit_each_workflow_once(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = [(await create(api, headers, simple_definition(f"W{i}")))["id"] for i in range(5)]
    seen: list[str] = []
    page_sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = await api.get("/api/workflows", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        page_sizes.append(len(page["items"]))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert page_sizes == [2, 2, 1]
    assert seen == list(reversed(created))


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param("garbage", id="not-base64"),
        pytest.param("abc", id="bad-padding"),
        pytest.param("!!!", id="not-base64-alphabet"),
        pytest.param(b64("||"), id="too-many-parts"),
        pytest.param(b64("not|a|uuid"), id="not-a-time"),
        pytest.param(b64(f"2024-01-01T00:00:00+00:00|{'x' * 36}"), id="not-a-uuid"),
        pytest.param(b64(f"2024-01-01T00:00:00|{ZERO_UUID}"), id="naive-time"),
        pytest.param(b64(f"9999-12-31T23:59:59-14:00|{ZERO_UUID}"), id="time-out-of-range"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe|x").decode(), id="not-utf8"),
    ],
)
async def test_a_garbage_cursor_is_400(api: httpx.AsyncClient, cursor: str) -> None:
    headers = await sign_up(api)
    await create(api, headers)
    async with lenient(api) as client:
        answer = await client.get("/api/workflows", params={"cursor": cursor}, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"detail": "invalid cursor"}


@pytest.mark.parametrize("limit", ["0", "-1", "201", "many"])
async def test_a_limit_out_of_range_is_422(api: httpx.AsyncClient, limit: str) -> None:
    headers = await sign_up(api)
    answer = await api.get("/api/workflows", params={"limit": limit}, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "limit"]


# --- node catalog ----------------------------------------------------------------------


async def test_node_types_lists_the_catalog_with_a_json_schema_for_each(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    answer = await api.get("/api/node-types", headers=headers)
    assert answer.status_code == 200, answer.text
    by_type = {entry["type"]: entry for entry in answer.json()}
    assert set(by_type) == {
        "http.request",
        "transform",
        "delay",
        "approval",
        "foreach",
        "subworkflow",
        "email.send",
        "llm.chat",
        "slack.post_message",
        "notion.create_page",
        "notion.query_database",
        "sheets.append_rows",
        "sheets.read_range",
        "s3.put_object",
        "s3.get_object",
        "s3.list_objects",
        "s3.presign_url",
    }
    assert by_type["http.request"]["credential_kinds"] == ["bearer", "basic", "api_key_header"]
    assert by_type["email.send"]["credential_kinds"] == ["smtp"]
    assert by_type["email.send"]["credential_required"] is True
    for entry in by_type.values():
        schema = entry["params_schema"]
        assert schema["type"] == "object", entry["type"]
        assert isinstance(schema["properties"], dict) and schema["properties"], entry["type"]
        assert entry["title"] and entry["description"], entry["type"]
        assert entry["runs_in"] in ("activity", "workflow")
    http = by_type["http.request"]
    assert "url" in http["params_schema"]["required"]
    assert {"url", "method", "headers", "json"} <= set(http["params_schema"]["properties"])
    assert http["runs_in"] == "activity"
    assert "duration" in by_type["delay"]["params_schema"]["required"]
    assert {"items", "nodes"} <= set(by_type["foreach"]["params_schema"]["required"])


# --- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"definition": {"name": ', id="malformed-json"),
        pytest.param(b"[]", id="array-body"),
        pytest.param(b'"a string"', id="string-body"),
        pytest.param(b"null", id="null-body"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b'{"definition": []}', id="array-definition"),
        pytest.param(b'{"definition": "x"}', id="string-definition"),
        pytest.param(b'{"definition": {}, "owner_id": "x"}', id="unknown-top-level-field"),
        pytest.param(b'{"defintion": {}}', id="misspelt-definition"),
        pytest.param(b'{"definition": {}}', id="empty-definition"),
    ],
)
async def test_bad_bodies_are_422_never_500(api: httpx.AsyncClient, body: bytes) -> None:
    headers = {**await sign_up(api), "Content-Type": "application/json"}
    created = await create(api, headers)
    async with lenient(api) as client:
        answers = [
            await client.post("/api/workflows", content=body, headers=headers),
            await client.put(f"/api/workflows/{created['id']}", content=body, headers=headers),
        ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
        assert isinstance(answer.json()["detail"], list) and answer.json()["detail"]
    assert [w["id"] for w in await list_all(api, headers)] == [created["id"]]
    assert (await api.get(f"/api/workflows/{created['id']}", headers=headers)).json()[
        "version"
    ] == 1


async def test_a_very_large_name_is_422_naming_the_field(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    async with lenient(api) as client:
        answer = await client.post(
            "/api/workflows",
            json={"definition": simple_definition("n" * 100_000)},
            headers=headers,
        )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "detail": [
            {"node": None, "field": "name", "message": "String should have at most 200 characters"}
        ]
    }
    assert await list_all(api, headers) == []


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        pytest.param(simple_definition("nul \x00 in the name"), "name", id="name"),
        pytest.param(simple_definition(description="nul \x00"), "description", id="description"),
        pytest.param(simple_definition(output={"key\x00": 1}), "output", id="object-key"),
        pytest.param(simple_definition(output="nul \x00 in a value"), "output", id="value"),
    ],
)
async def test_a_nul_character_in_a_definition_is_422_naming_the_field_never_500(
    api: httpx.AsyncClient, definition: dict[str, Any], field: str
) -> None:
    """PostgreSQL cannot store U+0000 in text or JSONB: refuse it on every backend alike."""
    headers = await sign_up(api)
    async with lenient(api) as client:
        answer = await client.post(
            "/api/workflows", json={"definition": definition}, headers=headers
        )
        checked = await client.post(
            "/api/workflows/validate", json={"definition": definition}, headers=headers
        )
    assert answer.status_code == 422, answer.text
    assert {"node": None, "field": field, "message": "contains a NUL character"} in answer.json()[
        "detail"
    ]
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is False
    assert checked.json()["errors"] == answer.json()["detail"]
    assert await list_all(api, headers) == []


# --- concurrency -----------------------------------------------------------------------


async def test_concurrent_updates_get_distinct_versions_or_409_never_500(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    created = await create(api, headers)
    path = f"/api/workflows/{created['id']}"
    async with lenient(api) as client:
        answers = await asyncio.gather(
            *(
                client.put(path, json={"definition": simple_definition(f"v{i}")}, headers=headers)
                for i in range(5)
            )
        )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 409}, statuses
    assert 200 in statuses
    for answer in answers:
        if answer.status_code == 409:
            assert isinstance(answer.json()["detail"], str)
    won = sorted(a.json()["version"] for a in answers if a.status_code == 200)
    assert won == list(range(2, 2 + len(won)))
    history = (await api.get(f"{path}/versions", headers=headers)).json()
    assert [v["version"] for v in history] == list(range(1 + len(won), 0, -1))
    names = {a.json()["version"]: a.json()["name"] for a in answers if a.status_code == 200}
    assert {v["version"]: v["definition"]["name"] for v in history[:-1]} == names
    read = (await api.get(path, headers=headers)).json()
    assert read["version"] == max(won)
    assert read["name"] == names[max(won)]


# --- audit -----------------------------------------------------------------------------


async def test_every_mutation_and_login_leaves_an_audit_row_with_its_actor(
    api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(api)
    me = uuid.UUID(await user_id(api, headers))
    created = await create(api, headers)
    target = f"workflow:{created['id']}"
    path = f"/api/workflows/{created['id']}"
    assert (
        await api.put(path, json={"definition": simple_definition("v2")}, headers=headers)
    ).status_code == 200
    assert (await api.delete(path, headers=headers)).status_code == 204

    rows = await audit_rows(api)
    by_action = {row.action: row for row in rows}
    assert {"user.login", "workflow.create", "workflow.update", "workflow.delete"} <= set(by_action)
    assert by_action["user.login"].actor_id == me
    assert by_action["user.login"].target == f"user:{me}"
    for action in ("workflow.create", "workflow.update", "workflow.delete"):
        assert by_action[action].actor_id == me, action
        assert by_action[action].target == target, action
    assert by_action["workflow.update"].details == {"version": 2}
    workflow_actions = [row.action for row in rows if row.target == target]
    assert workflow_actions == ["workflow.create", "workflow.update", "workflow.delete"]


async def test_refused_and_invalid_requests_leave_no_workflow_audit_rows(
    api: httpx.AsyncClient,
) -> None:
    await sign_up(api)
    owner = await sign_up(api)
    stranger = await sign_up(api)
    created = await create(api, owner)
    path = f"/api/workflows/{created['id']}"
    await api.put(path, json={"definition": simple_definition()}, headers=stranger)
    await api.delete(path, headers=stranger)
    await api.post("/api/workflows", json={"definition": broken_definition()}, headers=owner)
    await api.put(path, json={"definition": broken_definition()}, headers=owner)
    actions = [row.action for row in await audit_rows(api) if row.action.startswith("workflow.")]
    assert actions == ["workflow.create"]
