"""The Notion connector and its nodes, against a local server speaking Notion's API."""

import json
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from connectors.errors import ConnectorError
from connectors.netguard import GuardedTransport
from connectors.notion import NotionClient, page_summary, simple_value
from connectors.notion import test_connection as check_connection
from core.config import Settings
from tests.support.api import sign_up
from tests.support.fake_notion import TOKEN, FakeNotion
from tests.test_api_runs import create, finished, start
from workflows.catalog import NODE_TYPES
from workflows.definition import DefinitionError, validate_definition
from workflows.nodes.notion import NotionCreatePageParams, notion_id

VERSION = "2022-06-28"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCHEMA = {
    "Task": "title",
    "Status": "status",
    "Priority": "select",
    "Tags": "multi_select",
    "Due": "date",
    "Done": "checkbox",
    "Count": "number",
    "Link": "url",
    "Owner": "email",
    "Phone": "phone_number",
    "Notes": "rich_text",
    "Assignee": "people",
    "Related": "relation",
    "Attachments": "files",
    "Created": "created_time",
    "Ref": "unique_id",
}
OPTIONS = {"Status": ["Not started", "In progress", "Done"], "Priority": ["Low", "High"]}


def guarded() -> GuardedTransport:
    return GuardedTransport(["127.0.0.1"])


@pytest.fixture
async def notion(fake_notion: FakeNotion) -> AsyncIterator[NotionClient]:
    async with NotionClient(
        base_url=fake_notion.base_url, version=VERSION, transport=guarded(), timeout_seconds=20
    ) as client:
        yield client


@pytest.fixture
def tasks(fake_notion: FakeNotion) -> str:
    return fake_notion.add_database("Tasks", SCHEMA, OPTIONS)


async def failure(call: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await call
    return caught.value


def sent_properties(fake_notion: FakeNotion) -> dict[str, Any]:
    properties: dict[str, Any] = fake_notion.requests_to("POST", "/pages")[-1].json()["properties"]
    return properties


# --- creating pages -----------------------------------------------------------------------


async def test_plain_values_become_notion_property_values_of_the_schemas_types(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    page = await notion.create_page(
        TOKEN,
        database_id=tasks,
        properties={
            "Task": "Buy milk",
            "Status": "Done",
            "Priority": "High",
            "Tags": ["home", "errand"],
            "Due": "2026-12-01",
            "Done": True,
            "Count": 3,
            "Link": "https://example.com/milk",
            "Owner": "ana@example.com",
            "Phone": "+33 1 23 45 67 89",
            "Notes": "semi-skimmed",
            "Assignee": ["2f1c4e9a-0000-4000-8000-000000000001"],
            "Related": "2f1c4e9a-0000-4000-8000-000000000002",
            "Attachments": ["https://example.com/files/list.pdf"],
        },
    )

    assert sent_properties(fake_notion) == {
        "Task": {"title": [{"type": "text", "text": {"content": "Buy milk"}}]},
        "Status": {"status": {"name": "Done"}},
        "Priority": {"select": {"name": "High"}},
        "Tags": {"multi_select": [{"name": "home"}, {"name": "errand"}]},
        "Due": {"date": {"start": "2026-12-01"}},
        "Done": {"checkbox": True},
        "Count": {"number": 3},
        "Link": {"url": "https://example.com/milk"},
        "Owner": {"email": "ana@example.com"},
        "Phone": {"phone_number": "+33 1 23 45 67 89"},
        "Notes": {"rich_text": [{"type": "text", "text": {"content": "semi-skimmed"}}]},
        "Assignee": {"people": [{"object": "user", "id": "2f1c4e9a-0000-4000-8000-000000000001"}]},
        "Related": {"relation": [{"id": "2f1c4e9a-0000-4000-8000-000000000002"}]},
        "Attachments": {
            "files": [
                {
                    "name": "list.pdf",
                    "type": "external",
                    "external": {"url": "https://example.com/files/list.pdf"},
                }
            ]
        },
    }
    summary = page_summary(page)
    assert summary["id"] in fake_notion.pages
    assert summary["url"].startswith("https://www.notion.so/Buy-milk-")
    assert summary["created_time"]
    assert summary["properties"] == {
        "Task": "Buy milk",
        "Status": "Done",
        "Priority": "High",
        "Tags": ["home", "errand"],
        "Due": "2026-12-01",
        "Done": True,
        "Count": 3,
        "Link": "https://example.com/milk",
        "Owner": "ana@example.com",
        "Phone": "+33 1 23 45 67 89",
        "Notes": "semi-skimmed",
        "Assignee": ["2f1c4e9a-0000-4000-8000-000000000001"],
        "Related": ["2f1c4e9a-0000-4000-8000-000000000002"],
        "Attachments": ["https://example.com/files/list.pdf"],
        "Created": summary["created_time"],
        "Ref": "TASK-1",
    }


async def test_text_rendered_values_are_read_as_the_property_type_needs(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await notion.create_page(
        TOKEN,
        database_id=tasks,
        properties={
            "Count": "2.5",
            "Done": "False",
            "Tags": "a, b",
            "Due": {"start": "2026-12-01T09:00:00+01:00", "end": "2026-12-01T10:00:00+01:00"},
            "Notes": None,
        },
    )

    sent = sent_properties(fake_notion)
    assert sent["Count"] == {"number": 2.5}
    assert sent["Done"] == {"checkbox": False}
    assert sent["Tags"] == {"multi_select": [{"name": "a"}, {"name": "b"}]}
    assert sent["Due"]["date"] == {
        "start": "2026-12-01T09:00:00+01:00",
        "end": "2026-12-01T10:00:00+01:00",
    }
    assert sent["Notes"] == {"rich_text": []}


async def test_blank_text_clears_values_that_can_be_empty(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await notion.create_page(
        TOKEN, database_id=tasks, properties={"Count": "", "Priority": " ", "Due": ""}
    )

    sent = sent_properties(fake_notion)
    assert sent == {"Count": {"number": None}, "Priority": {"select": None}, "Due": {"date": None}}


async def test_a_notion_property_value_object_goes_through_unchanged(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    raw_title = {
        "title": [{"type": "text", "text": {"content": "Bold"}, "annotations": {"bold": True}}]
    }
    raw_date = {"date": {"start": "2026-01-01", "end": None, "time_zone": None}}

    page = await notion.create_page(
        TOKEN, database_id=tasks, properties={"Task": raw_title, "Due": raw_date}
    )

    assert sent_properties(fake_notion) == {"Task": raw_title, "Due": raw_date}
    assert page["properties"]["Task"]["title"][0]["annotations"]["bold"] is True


async def test_properties_can_be_named_by_id_and_title_fills_the_title_property(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    count_id = fake_notion.databases[tasks]["properties"]["Count"]["id"]

    page = await notion.create_page(
        TOKEN, database_id=tasks, title="Water plants", properties={count_id: 7}
    )

    assert sent_properties(fake_notion) == {
        "Count": {"number": 7},
        "Task": {"title": [{"type": "text", "text": {"content": "Water plants"}}]},
    }
    assert page_summary(page)["properties"]["Task"] == "Water plants"


async def test_long_text_is_split_at_notions_2000_character_limit(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    long_text = "x" * 4500

    page = await notion.create_page(TOKEN, database_id=tasks, properties={"Notes": long_text})

    pieces = sent_properties(fake_notion)["Notes"]["rich_text"]
    assert [len(piece["text"]["content"]) for piece in pieces] == [2000, 2000, 500]
    assert page_summary(page)["properties"]["Notes"] == long_text


async def test_paragraphs_blocks_icon_and_cover_reach_the_new_page(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    todo = {
        "object": "block",
        "type": "to_do",
        "to_do": {"rich_text": [{"type": "text", "text": {"content": "call"}}], "checked": False},
    }

    page = await notion.create_page(
        TOKEN,
        database_id=tasks,
        title="Plan",
        paragraphs=["First paragraph\nsecond line", "Another"],
        blocks=[todo],
        icon="🥛",
        cover="https://example.com/cover.png",
    )

    blocks = fake_notion.children[page["id"]]
    assert [block["type"] for block in blocks] == ["paragraph", "paragraph", "to_do"]
    assert blocks[0]["paragraph"]["rich_text"][0]["plain_text"] == "First paragraph\nsecond line"
    assert blocks[2]["to_do"]["rich_text"][0]["plain_text"] == "call"
    assert page["icon"] == {"type": "emoji", "emoji": "🥛"}
    assert page["cover"] == {
        "type": "external",
        "external": {"url": "https://example.com/cover.png"},
    }


async def test_a_page_under_a_page_gets_only_a_title(
    notion: NotionClient, fake_notion: FakeNotion
) -> None:
    parent = fake_notion.add_page("Meeting notes")

    page = await notion.create_page(TOKEN, page_id=parent, title="Monday", paragraphs=["Agenda"])

    assert page["parent"] == {"type": "page_id", "page_id": parent}
    assert page_summary(page)["properties"] == {"title": "Monday"}
    refused = await failure(notion.create_page(TOKEN, page_id=parent, properties={"Due": "x"}))
    assert "only a title" in refused.message
    assert not refused.retryable


async def test_an_unknown_property_is_named_with_the_ones_the_database_has(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    error = await failure(notion.create_page(TOKEN, database_id=tasks, properties={"Stat": "x"}))

    assert "no property 'Stat'" in error.message
    assert "'Status'" in error.message
    assert (error.retryable, error.kind) == (False, "NotionInvalidProperty")
    assert fake_notion.requests_to("POST", "/pages") == []


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Count", "three", "property 'Count' (number): expected a number, got the text 'three'"),
        ("Count", True, "property 'Count' (number): expected a number, got a boolean"),
        ("Done", "maybe", "property 'Done' (checkbox): expected true or false, got text"),
        ("Due", "tomorrow", "property 'Due' (date): expected an ISO 8601 date"),
        ("Tags", {"a": 1}, "property 'Tags' (multi_select): expected a list of option names"),
        ("Status", {"select": {"name": "Done"}}, "'Status' is a status property; a select value"),
        ("Created", "2026-01-01", "'Created' is a created_time property, which Notion computes"),
    ],
)
async def test_a_value_that_does_not_fit_its_property_is_refused_naming_it(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str, name: str, value: Any, expected: str
) -> None:
    error = await failure(notion.create_page(TOKEN, database_id=tasks, properties={name: value}))

    assert expected in error.message
    assert not error.retryable
    assert fake_notion.requests_to("POST", "/pages") == []


async def test_notions_validation_error_is_relayed_and_not_retryable(
    notion: NotionClient, tasks: str
) -> None:
    error = await failure(
        notion.create_page(TOKEN, database_id=tasks, properties={"Status": "Archived"})
    )

    assert "400 validation_error" in error.message
    assert 'Status option "Archived" does not exist' in error.message
    assert (error.retryable, error.kind) == (False, "NotionInvalidRequest")


async def test_an_unshared_database_is_not_found_with_a_hint(notion: NotionClient) -> None:
    missing = "0123456789abcdef0123456789abcdef"

    error = await failure(notion.create_page(TOKEN, database_id=missing, title="x"))

    assert "404 object_not_found" in error.message
    assert "shared with the integration" in error.message
    assert (error.retryable, error.kind) == (False, "NotionNotFound")


# --- the wire: auth, versions, failures ---------------------------------------------------


async def test_every_request_carries_the_bearer_token_the_version_and_json(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await notion.create_page(TOKEN, database_id=tasks, title="x")
    await notion.query_database(TOKEN, tasks)

    assert [(r.method, r.path.split("/")[-1]) for r in fake_notion.requests] == [
        ("GET", tasks),
        ("POST", "pages"),
        ("POST", "query"),
    ]
    for request in fake_notion.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["notion-version"] == VERSION
    assert fake_notion.requests[1].headers["content-type"] == "application/json"


async def test_an_api_version_notion_does_not_know_is_refused(fake_notion: FakeNotion) -> None:
    async with NotionClient(
        base_url=fake_notion.base_url, version="1999-01-01", transport=guarded()
    ) as client:
        error = await failure(client.me(TOKEN))

    assert "400 validation_error: Notion-Version header failed validation" in error.message
    assert not error.retryable


async def test_a_rejected_token_is_unauthorized_and_never_quoted(
    notion: NotionClient, tasks: str
) -> None:
    wrong = "ntn_wrong_token_canary"

    error = await failure(notion.query_database(wrong, tasks))

    assert "401 unauthorized: API token is invalid." in error.message
    assert (error.retryable, error.kind) == (False, "NotionUnauthorized")
    assert wrong not in error.message
    assert wrong not in repr(error)


async def test_a_token_that_cannot_be_a_header_is_refused_without_quoting_it(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    error = await failure(notion.query_database("secret\nInjected: yes", tasks))

    assert "secret" not in error.message
    assert not error.retryable
    assert fake_notion.requests == []


async def test_rate_limited_is_retryable_after_the_services_retry_after(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    fake_notion.fail_next(429, "rate_limited", "You have been rate limited.", retry_after=7)

    error = await failure(notion.query_database(TOKEN, tasks))

    assert "429 rate_limited: You have been rate limited." in error.message
    assert (error.retryable, error.retry_after, error.kind) == (True, 7.0, "NotionRateLimited")


@pytest.mark.parametrize(
    ("status", "code", "body"),
    [
        (500, "internal_server_error", None),
        (502, "", "<html><body>Bad gateway</body></html>"),
        (503, "service_unavailable", None),
        (504, "gateway_timeout", None),
        (409, "conflict_error", None),
    ],
)
async def test_server_trouble_and_conflicts_are_retryable(
    notion: NotionClient,
    fake_notion: FakeNotion,
    tasks: str,
    status: int,
    code: str,
    body: str | None,
) -> None:
    fake_notion.fail_next(status, code, "try again later", body=body)

    error = await failure(notion.create_page(TOKEN, database_id=tasks, title="x"))

    assert f"failed: {status}" in error.message
    assert error.retryable
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "invalid_request", "NotionInvalidRequest"),
        (403, "restricted_resource", "NotionUnauthorized"),
        (404, "object_not_found", "NotionNotFound"),
    ],
)
async def test_client_errors_are_not_retryable(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str, status: int, code: str, kind: str
) -> None:
    fake_notion.fail_next(status, code, "no", retry_after=3)

    error = await failure(notion.query_database(TOKEN, tasks))

    assert f"{status} {code}: no" in error.message
    assert (error.retryable, error.retry_after, error.kind) == (False, None, kind)


async def test_a_network_failure_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with NotionClient(
        base_url=f"http://127.0.0.1:{port}/v1", version=VERSION, transport=guarded()
    ) as client:
        error = await failure(client.me(TOKEN))

    assert (error.retryable, error.kind) == (True, "NotionNetworkError")


async def test_a_loopback_service_is_refused_unless_allowlisted(fake_notion: FakeNotion) -> None:
    async with NotionClient(
        base_url=fake_notion.base_url, version=VERSION, transport=GuardedTransport([])
    ) as client:
        error = await failure(client.me(TOKEN))

    assert (error.retryable, error.kind) == (False, "TargetRefused")
    assert fake_notion.requests == []


# --- querying -----------------------------------------------------------------------------


async def add_tasks(notion: NotionClient, database_id: str, count: int) -> None:
    for number in range(count):
        await notion.create_page(
            TOKEN, database_id=database_id, title=f"task {number}", properties={"Count": number}
        )


async def test_a_query_follows_next_cursor_up_to_the_limit_and_can_continue(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await add_tasks(notion, tasks, 250)
    fake_notion.requests.clear()

    first = await notion.query_database(TOKEN, tasks, limit=230)

    bodies = [r.json() for r in fake_notion.requests_to("POST", "/query")]
    assert [body["page_size"] for body in bodies] == [100, 100, 30]
    assert "start_cursor" not in bodies[0]
    assert bodies[1]["start_cursor"] == first.pages[100]["id"]
    assert len(first.pages) == 230
    assert first.has_more
    assert first.next_cursor == list(fake_notion.pages)[230]
    rest = await notion.query_database(TOKEN, tasks, limit=100, start_cursor=first.next_cursor)
    numbers = [p["properties"]["Count"]["number"] for p in first.pages + rest.pages]
    assert numbers == list(range(250))
    assert (rest.has_more, rest.next_cursor) == (False, None)


async def test_a_query_under_the_limit_returns_everything_in_small_pages(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await add_tasks(notion, tasks, 5)
    fake_notion.requests.clear()

    found = await notion.query_database(TOKEN, tasks, page_size=2, limit=100)

    assert len(found.pages) == 5
    assert (found.has_more, found.next_cursor) == (False, None)
    assert len(fake_notion.requests_to("POST", "/query")) == 3


async def test_filter_and_sorts_are_sent_unchanged_and_applied(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    for name, status, count in [("a", "Done", 1), ("b", "Done", 5), ("c", "In progress", 9)]:
        await notion.create_page(
            TOKEN, database_id=tasks, title=name, properties={"Status": status, "Count": count}
        )
    query_filter = {
        "and": [
            {"property": "Status", "status": {"equals": "Done"}},
            {"property": "Count", "number": {"greater_than": 0}},
        ]
    }
    sorts = [{"property": "Count", "direction": "descending"}]

    found = await notion.query_database(TOKEN, tasks, filter=query_filter, sorts=sorts)

    body = fake_notion.requests_to("POST", "/query")[-1].json()
    assert (body["filter"], body["sorts"]) == (query_filter, sorts)
    assert [page_summary(p)["properties"]["Task"] for p in found.pages] == ["b", "a"]


async def test_a_filter_notion_rejects_is_a_clear_error(notion: NotionClient, tasks: str) -> None:
    bad = {"property": "Owner name", "rich_text": {"contains": "x"}}

    error = await failure(notion.query_database(TOKEN, tasks, filter=bad))

    assert "Could not find property with name or id: Owner name" in error.message
    assert not error.retryable


async def test_a_rate_limit_in_the_middle_of_paging_is_retryable(
    notion: NotionClient, fake_notion: FakeNotion, tasks: str
) -> None:
    await add_tasks(notion, tasks, 3)
    fake_notion.requests.clear()
    fake_notion.fail_next(429, "rate_limited", "slow down", retry_after=2, after=1)

    error = await failure(notion.query_database(TOKEN, tasks, page_size=2))

    assert (error.retryable, error.retry_after) == (True, 2.0)
    _first, second = fake_notion.requests_to("POST", "/query")
    assert second.json()["start_cursor"] == list(fake_notion.pages)[2]


def test_page_summary_keeps_notions_objects_when_not_simplifying() -> None:
    page = {
        "id": "p",
        "url": "u",
        "created_time": "t",
        "last_edited_time": "t",
        "properties": {"Count": {"id": "x", "type": "number", "number": 2}},
    }

    assert page_summary(page, simplify=False)["properties"] == page["properties"]
    assert page_summary(page)["properties"] == {"Count": 2}


def test_computed_values_simplify_to_their_result() -> None:
    formula = {"type": "formula", "formula": {"type": "number", "number": 4}}
    rollup = {
        "type": "rollup",
        "rollup": {
            "type": "array",
            "array": [{"type": "title", "title": [{"plain_text": "linked"}]}],
        },
    }
    date_range = {"type": "date", "date": {"start": "a", "end": "b", "time_zone": None}}

    assert simple_value(formula) == 4
    assert simple_value(rollup) == ["linked"]
    assert simple_value(date_range) == {"start": "a", "end": "b", "time_zone": None}


# --- test connection ----------------------------------------------------------------------


async def test_test_connection_names_the_bot_and_its_workspace(fake_notion: FakeNotion) -> None:
    message = await check_connection(
        {"token": TOKEN}, base_url=fake_notion.base_url, version=VERSION, transport=guarded()
    )

    assert message == "connected as bot Flowpilot bot in workspace Acme"
    assert fake_notion.requests[0].path == "/v1/users/me"


async def test_test_connection_with_a_bad_token_fails_clearly(fake_notion: FakeNotion) -> None:
    error = await failure(
        check_connection(
            {"token": "nope"}, base_url=fake_notion.base_url, version=VERSION, transport=guarded()
        )
    )

    assert "401 unauthorized" in error.message
    assert not error.retryable


# --- params and catalog -------------------------------------------------------------------


def test_ids_are_read_from_ids_and_notion_urls() -> None:
    dashed = "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"

    assert notion_id(dashed.replace("-", "").upper()) == dashed
    assert notion_id(f"https://www.notion.so/acme/Tasks-{dashed.replace('-', '')}?v=ab12") == dashed
    with pytest.raises(ValueError, match="Notion id"):
        notion_id("tasks")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"database_id": "nope"}, "params.database_id", "Notion id"),
        ({"title": "x"}, "params", "exactly one of database_id and page_id"),
        ({"database_id": "a" * 32, "page_id": "b" * 32}, "params", "exactly one of"),
        ({"page_id": "b" * 32, "properties": {"Due": "x"}}, "params", "no properties but"),
        ({"database_id": "a" * 32, "content": "p\n\n" * 101}, "params", "at most 100"),
    ],
)
def test_create_page_params_errors_name_the_field(
    params: dict[str, Any], field: str, message: str
) -> None:
    node = {"id": "add", "type": "notion.create_page", "credential": "n", "params": params}

    with pytest.raises(DefinitionError) as caught:
        validate_definition({"name": "t", "nodes": [node]})

    issues = [(issue.field, issue.message) for issue in caught.value.issues]
    assert any(f == field and message in m for f, m in issues), issues


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"database_id": "a" * 32, "page_size": 101}, "params.page_size"),
        ({"database_id": "a" * 32, "limit": 0}, "params.limit"),
        ({"database_id": "a" * 32, "filter": "Status = Done"}, "params.filter"),
        ({}, "params.database_id"),
    ],
)
def test_query_params_errors_name_the_field(params: dict[str, Any], field: str) -> None:
    node = {"id": "find", "type": "notion.query_database", "credential": "n", "params": params}

    with pytest.raises(DefinitionError) as caught:
        validate_definition({"name": "t", "nodes": [node]})

    assert field in [issue.field for issue in caught.value.issues]


def test_templated_ids_are_accepted_at_save_time() -> None:
    node = {
        "id": "add",
        "type": "notion.create_page",
        "credential": "n",
        "params": {"database_id": "{{ inputs.db }}", "title": "x"},
    }

    validate_definition({"name": "t", "inputs": {"db": {"type": "string"}}, "nodes": [node]})
    assert NotionCreatePageParams(database_id="a" * 32).database_id == notion_id("a" * 32)


def test_both_nodes_are_in_the_catalog_and_need_a_notion_credential() -> None:
    for node_type in ("notion.create_page", "notion.query_database"):
        entry = NODE_TYPES[node_type]
        assert (entry.runs_in, entry.credential_kinds, entry.credential_required) == (
            "activity",
            ("notion",),
            True,
        )
    node = {"id": "find", "type": "notion.query_database", "params": {"database_id": "a" * 32}}
    with pytest.raises(DefinitionError, match="need a credential"):
        validate_definition({"name": "t", "nodes": [node]})


# --- real runs: API, worker, Temporal ------------------------------------------------------


@pytest.fixture
def api_settings(api_settings: Settings, fake_notion: FakeNotion) -> Settings:
    """The API's and worker's settings, with Notion at the fake server."""
    return api_settings.model_copy(update={"notion_api_url": fake_notion.base_url})


async def store_credential(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, data: dict[str, Any]
) -> str:
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text
    return str(stored.json()["id"])


def add_and_find(database_id: str, **create_fields: Any) -> dict[str, Any]:
    return {
        "name": "Log a task",
        "inputs": {"task": {"type": "string"}},
        "nodes": [
            {
                "id": "add",
                "type": "notion.create_page",
                "credential": "notion-work",
                "retry": {"max_attempts": 3, "initial_interval": "100ms"},
                "params": {
                    "database_id": database_id,
                    "title": "{{ inputs.task }}",
                    "properties": {"Status": "In progress", "Tags": ["flowpilot"]},
                    "content": "Logged by a run.",
                    **create_fields,
                },
            },
            {
                "id": "find",
                "type": "notion.query_database",
                "needs": ["add"],
                "credential": "notion-work",
                "params": {
                    "database_id": database_id,
                    "filter": {"property": "Status", "status": {"equals": "In progress"}},
                },
            },
        ],
        "output": "{{ nodes.find.output }}",
    }


async def test_a_run_creates_and_finds_a_page_and_the_token_stays_in_the_worker(
    live_api: httpx.AsyncClient,
    fake_notion: FakeNotion,
    temporal_env: WorkflowEnvironment,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = "ntn_canary_7f3a9c21_secret"
    fake_notion.tokens.add(canary)
    database_id = fake_notion.add_database("Tasks", SCHEMA, OPTIONS)
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "notion-work", "notion", {"token": canary})
    workflow_id = await create(live_api, headers, add_and_find(database_id))

    run_id = await start(live_api, headers, workflow_id, task="Ship the Notion node")
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    nodes = {node["node_id"]: node for node in run["nodes"]}
    created = nodes["add"]["output"]
    assert created["properties"]["Task"] == "Ship the Notion node"
    assert created["properties"]["Status"] == "In progress"
    assert run["output"]["count"] == 1
    assert run["output"]["results"][0]["id"] == created["id"]
    assert run["output"]["results"][0]["properties"]["Tags"] == ["flowpilot"]
    assert all(r.headers["authorization"] == f"Bearer {canary}" for r in fake_notion.requests)
    answers = [
        await live_api.get(f"/api/runs/{run_id}", headers=headers),
        await live_api.get("/api/runs", headers=headers),
        await live_api.get("/api/credentials", headers=headers),
        await live_api.get(f"/api/workflows/{workflow_id}", headers=headers),
    ]
    assert all(canary not in answer.text for answer in answers)
    history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    assert canary not in history.to_json()
    assert canary not in caplog.text


async def test_a_rate_limited_run_waits_for_retry_after_then_succeeds(
    live_api: httpx.AsyncClient, fake_notion: FakeNotion
) -> None:
    database_id = fake_notion.add_database("Tasks", SCHEMA, OPTIONS)
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "notion-work", "notion", {"token": TOKEN})
    workflow_id = await create(live_api, headers, add_and_find(database_id))
    fake_notion.fail_next(429, "rate_limited", "You have been rate limited.", retry_after=2)

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id, task="t"))

    assert run["status"] == "succeeded", run
    add = next(node for node in run["nodes"] if node["node_id"] == "add")
    assert add["attempts"] == 2
    limited, retried = fake_notion.requests[0], fake_notion.requests[1]
    assert retried.at - limited.at >= 1.9, "the retry came before Retry-After"


async def activity_failures(temporal_env: WorkflowEnvironment, run_id: str) -> list[Any]:
    """The failures of the run's activity attempts, from its Temporal history."""
    history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    return [
        event.activity_task_failed_event_attributes.failure
        for event in history.events
        if event.HasField("activity_task_failed_event_attributes")
    ]


async def test_a_credential_of_another_kind_fails_the_node_at_once(
    live_api: httpx.AsyncClient, fake_notion: FakeNotion, temporal_env: WorkflowEnvironment
) -> None:
    database_id = fake_notion.add_database("Tasks", SCHEMA, OPTIONS)
    headers = await sign_up(live_api)
    first = await store_credential(live_api, headers, "notion-work", "notion", {"token": TOKEN})
    workflow_id = await create(live_api, headers, add_and_find(database_id))
    deleted = await live_api.delete(f"/api/credentials/{first}", headers=headers)
    assert deleted.status_code == 204
    await store_credential(live_api, headers, "notion-work", "bearer", {"token": TOKEN})

    run_id = await start(live_api, headers, workflow_id, task="t")
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "failed"
    add = next(node for node in run["nodes"] if node["node_id"] == "add")
    assert "is of kind 'bearer'" in add["error"]
    assert "use 'notion'" in add["error"]
    assert fake_notion.requests == []
    (only,) = await activity_failures(temporal_env, run_id)
    assert only.application_failure_info.type == "CredentialUnavailable"
    assert only.application_failure_info.non_retryable


async def test_a_value_notion_refuses_fails_the_run_with_notions_message(
    live_api: httpx.AsyncClient, fake_notion: FakeNotion
) -> None:
    database_id = fake_notion.add_database("Tasks", SCHEMA, OPTIONS)
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "notion-work", "notion", {"token": TOKEN})
    definition = add_and_find(database_id, properties={"Status": "Archived"})
    workflow_id = await create(live_api, headers, definition)

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id, task="t"))

    assert run["status"] == "failed"
    add = next(node for node in run["nodes"] if node["node_id"] == "add")
    assert 'Status option "Archived" does not exist' in add["error"]
    assert len(fake_notion.requests_to("POST", "/pages")) == 1, "a 400 must not be retried"


async def test_the_example_workflow_writes_a_digest_of_the_open_tasks(
    live_api: httpx.AsyncClient, fake_notion: FakeNotion
) -> None:
    database_id = fake_notion.add_database(
        "Tasks", {"Task": "title", "Status": "status", "Due": "date"}, OPTIONS
    )
    digests = fake_notion.add_page("Daily digests")
    async with NotionClient(
        base_url=fake_notion.base_url, version=VERSION, transport=guarded()
    ) as notion:
        for title, status, due in [
            ("Later", "Not started", "2999-01-01"),
            ("Overdue", "In progress", "2020-01-01"),
            ("Finished", "Done", "2020-01-01"),
        ]:
            await notion.create_page(
                TOKEN,
                database_id=database_id,
                title=title,
                properties={"Status": status, "Due": due},
            )
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "notion", "notion", {"token": TOKEN})
    definition = json.loads((EXAMPLES / "notion-task-digest.json").read_text())
    del definition["trigger"]
    workflow_id = await create(live_api, headers, definition)

    run_id = await start(
        live_api, headers, workflow_id, tasks_database=database_id, digest_page=digests
    )
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    digest = next(p for p in fake_notion.pages.values() if p["parent"].get("page_id") == digests)
    assert run["output"] == digest["url"]
    blocks = fake_notion.children[digest["id"]]
    texts = [block["paragraph"]["rich_text"][0]["plain_text"] for block in blocks]
    assert texts[0] == "1 open task(s) due by today."
    assert texts[1].startswith("Overdue — due 2020-01-01, In progress: https://www.notion.so/")
    assert digest["icon"] == {"type": "emoji", "emoji": "📋"}
