"""Dry runs: a definition simulated end to end, with sample or pinned outputs for every node
that does I/O or waits, on the real Temporal dev server and worker, sending nothing."""

import time
import uuid
from typing import Any

import httpx
import jsonschema_rs
import pytest
from sqlmodel import select
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.models import AuditLog, Run
from tests.support.api import admin_and_viewer, app_client, sign_up
from tests.support.fake_smtp import FakeSmtpServer
from tests.support.local_http import LocalHttpServer
from tests.support.runs import definition, eventually
from workflows.catalog import NODE_TYPES
from workflows.dag import DagWorkflow, DryRun, RunInput
from workflows.definition import resolve_inputs, validate_definition
from workflows.nodes.llm import schema_sample

DRY_RUN = "/api/workflows/dry-run"


def http_node(node_id: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http.request", "params": {"url": url}, **fields}


def transform(node_id: str, value: Any, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "params": {"value": value}, **fields}


def report_definition(url: str, **fields: Any) -> dict[str, Any]:
    """http.request → transform → email.send, the report mailed to `inputs.to`."""
    return definition(
        http_node("fetch", url),
        transform(
            "summary",
            "{{ nodes.fetch.output.body.name }} ({{ nodes.fetch.output.status }})",
            needs=["fetch"],
        ),
        {
            "id": "mail",
            "type": "email.send",
            "needs": ["summary"],
            "credential": "mailer",
            "params": {
                "to": "{{ inputs.to }}",
                "subject": "Report for {{ inputs.team }}",
                "text": "{{ nodes.summary.output }}",
            },
        },
        inputs={"team": {"type": "string"}, "to": {"type": "string"}},
        output={"summary": "{{ nodes.summary.output }}", "sent": "{{ nodes.mail.output }}"},
        **fields,
    )


async def store_smtp(
    api: httpx.AsyncClient, headers: dict[str, str], server: FakeSmtpServer
) -> None:
    stored = await api.post(
        "/api/credentials",
        json={"name": "mailer", "kind": "smtp", "data": server.credential()},
        headers=headers,
    )
    assert stored.status_code == 201, stored.text


async def dry_run(
    api: httpx.AsyncClient, headers: dict[str, str], raw: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    answer = await api.post(DRY_RUN, json={"definition": raw, **fields}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["node_id"]: node for node in result["nodes"]}


async def mail_count(server: FakeSmtpServer) -> int:
    return len(server.mails)


async def rows(api: httpx.AsyncClient, model: Any) -> list[Any]:
    app = api._transport.app  # type: ignore[attr-defined]
    async with app.state.sessions() as session:
        return list((await session.exec(select(model))).all())


# --- through the API ------------------------------------------------------------------------


async def test_a_dry_run_shows_the_data_flow_with_samples_and_sends_nothing(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer, fake_smtp: FakeSmtpServer
) -> None:
    local_http.route("/items", responses=[(200, {"name": "Real item"}, {})])
    headers = await sign_up(live_api)
    await store_smtp(live_api, headers, fake_smtp)
    raw = report_definition(local_http.url("/items"))
    inputs = {"team": "eng", "to": "Ann <ann@example.com>"}

    result = await dry_run(live_api, headers, raw, inputs=inputs)

    assert result["status"] == "succeeded", result
    nodes = by_id(result)
    assert [node["node_id"] for node in result["nodes"]] == ["fetch", "summary", "mail"]
    assert nodes["fetch"]["simulated"] == "sample"
    assert nodes["fetch"]["input"]["url"] == local_http.url("/items")
    assert nodes["fetch"]["output"] == NODE_TYPES["http.request"].sample_output
    assert nodes["summary"]["simulated"] is None
    assert nodes["summary"]["output"] == "Sample item (200)"
    assert nodes["mail"]["simulated"] == "sample"
    assert nodes["mail"]["input"]["subject"] == "Report for eng"
    assert nodes["mail"]["input"]["to"] == "Ann <ann@example.com>"
    assert nodes["mail"]["input"]["text"] == "Sample item (200)"
    assert nodes["mail"]["output"]["accepted"] == ["ann@example.com"]
    assert result["output"]["summary"] == "Sample item (200)"
    assert local_http.requests("/items") == []
    assert fake_smtp.connections == 0 and fake_smtp.mails == []
    assert await rows(live_api, Run) == []
    assert (await live_api.get("/api/runs", headers=headers)).json()["items"] == []
    [audited] = [row for row in await rows(live_api, AuditLog) if row.action == "workflow.dry_run"]
    assert audited.target.startswith("dry-run-")
    assert audited.details == {"name": "test", "status": "succeeded"}

    # The same definition saved and run for real does reach both servers.
    created = await live_api.post("/api/workflows", json={"definition": raw}, headers=headers)
    assert created.status_code == 201, created.text
    started = await live_api.post(
        f"/api/workflows/{created.json()['id']}/runs", json={"inputs": inputs}, headers=headers
    )
    assert started.status_code == 201, started.text
    await eventually(lambda: mail_count(fake_smtp), lambda count: count == 1, within=30)
    assert len(local_http.requests("/items")) == 1
    assert fake_smtp.mails[0].message["Subject"] == "Report for eng"


async def test_a_pinned_output_flows_into_the_transform_and_the_run_output(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer, fake_smtp: FakeSmtpServer
) -> None:
    headers = await sign_up(live_api)
    await store_smtp(live_api, headers, fake_smtp)
    pinned = {"status": 201, "headers": {}, "body": {"name": "Pinned item"}}

    result = await dry_run(
        live_api,
        headers,
        report_definition(local_http.url("/items")),
        inputs={"team": "ops", "to": "ops@example.com"},
        pinned={"fetch": pinned},
    )

    assert result["status"] == "succeeded", result
    nodes = by_id(result)
    assert nodes["fetch"]["simulated"] == "pinned"
    assert nodes["fetch"]["output"] == pinned
    assert nodes["summary"]["output"] == "Pinned item (201)"
    assert nodes["mail"]["simulated"] == "sample"
    assert result["output"]["summary"] == "Pinned item (201)"
    assert result["output"]["sent"]["accepted"] == ["ops@example.com"]


async def test_pinned_errors_follow_on_error_continue_and_then_on_failure(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    headers = await sign_up(live_api)
    raw = definition(
        http_node("lookup", local_http.url("/lookup"), on_error="continue"),
        transform("note", "lookup said: {{ nodes.lookup.output.error }}", needs=["lookup"]),
        http_node("publish", local_http.url("/publish"), needs=["note"]),
        transform("never", "unreached", needs=["publish"]),
        on_failure=[
            {
                "id": "alert",
                "type": "http.request",
                "params": {
                    "method": "POST",
                    "url": local_http.url("/alert"),
                    "json": {"node": "{{ error.node }}", "message": "{{ error.message }}"},
                },
            }
        ],
    )

    result = await dry_run(
        live_api,
        headers,
        raw,
        pinned_errors={"lookup": "404 Not Found", "publish": "503 Service Unavailable"},
    )

    assert result["status"] == "failed"
    assert result["error"] == "node 'publish' failed: 503 Service Unavailable"
    nodes = by_id(result)
    assert nodes["lookup"]["status"] == "failed"
    assert nodes["lookup"]["simulated"] == "pinned"
    assert nodes["lookup"]["output"] == {"error": "404 Not Found"}
    assert nodes["note"]["output"] == "lookup said: 404 Not Found"
    assert nodes["publish"]["status"] == "failed"
    assert nodes["publish"]["simulated"] == "pinned"
    assert nodes["never"]["status"] == "cancelled"
    assert nodes["alert"]["status"] == "succeeded"
    assert nodes["alert"]["simulated"] == "sample"
    assert nodes["alert"]["input"]["json"] == {
        "node": "publish",
        "message": "503 Service Unavailable",
    }
    assert local_http.requests("/alert") == [] and local_http.requests("/lookup") == []


async def test_a_foreach_body_is_simulated_for_every_item_with_its_pins(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    headers = await sign_up(live_api)
    raw = definition(
        {
            "id": "each",
            "type": "foreach",
            "params": {
                "items": "{{ inputs.ids }}",
                "batch_size": 2,
                "nodes": [
                    http_node("profile", local_http.url("/profiles/{{ item }}")),
                    http_node("avatar", local_http.url("/avatars/{{ item }}")),
                    transform(
                        "line",
                        "{{ item }}: {{ nodes.profile.output.body.name }} "
                        "{{ nodes.avatar.output.status }}",
                        needs=["profile", "avatar"],
                    ),
                ],
            },
        },
        inputs={"ids": {"type": "array"}},
        output="{{ nodes.each.output }}",
    )

    result = await dry_run(
        live_api,
        headers,
        raw,
        inputs={"ids": [1, 2, 3]},
        pinned={"avatar": {"status": 304, "headers": {}, "body": ""}},
    )

    assert result["status"] == "succeeded", result
    assert result["output"] == ["1: Sample item 304", "2: Sample item 304", "3: Sample item 304"]
    assert by_id(result)["each"]["simulated"] is None
    assert all(local_http.requests(f"/profiles/{n}") == [] for n in (1, 2, 3))


async def test_approval_and_a_one_day_delay_finish_at_once(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    raw = definition(
        {"id": "wait", "type": "delay", "params": {"duration": "1d"}},
        {
            "id": "gate",
            "type": "approval",
            "needs": ["wait"],
            "params": {"message": "Send it?", "timeout": "7d"},
        },
        transform("decided", "{{ nodes.gate.output.approved }}", needs=["gate"]),
        output="{{ nodes.decided.output }}",
    )

    began = time.monotonic()
    result = await dry_run(live_api, headers, raw)

    assert time.monotonic() - began < 10
    assert result["status"] == "succeeded", result
    assert result["output"] is True
    nodes = by_id(result)
    assert nodes["wait"]["output"] == {"waited_seconds": 86400.0}
    assert nodes["wait"]["simulated"] == "sample"
    assert nodes["gate"]["output"] == NODE_TYPES["approval"].sample_output
    assert nodes["gate"]["input"] == {"message": "Send it?", "timeout": "7d"}


async def test_an_invalid_definition_or_inputs_answer_422_naming_node_and_field(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    invalid = definition(
        {"id": "fetch", "type": "http.request", "params": {"method": "FETCH", "url": "http://x"}}
    )
    answer = await live_api.post(DRY_RUN, json={"definition": invalid}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {
            "node": "fetch",
            "field": "params.method",
            "message": "Input should be 'GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD' or "
            "'OPTIONS'",
        }
    ]

    needs_input = definition(transform("a", "{{ inputs.n }}"), inputs={"n": {"type": "integer"}})
    answer = await live_api.post(
        DRY_RUN, json={"definition": needs_input, "inputs": {"n": "five"}}, headers=headers
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "inputs.n"
    assert await rows(live_api, Run) == []


async def test_pins_must_name_nodes_the_dry_run_simulates(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    raw = definition(
        http_node("fetch", "https://example.com"),
        transform("shape", "{{ nodes.fetch.output.status }}", needs=["fetch"]),
    )
    cases = [
        ({"pinned": {"missing": {}}}, "missing", "pinned", "no node 'missing'"),
        ({"pinned_errors": {"ghost": "boom"}}, "ghost", "pinned_errors", "no node 'ghost'"),
        ({"pinned": {"shape": 1}}, "shape", "pinned", "'transform' nodes run in a dry run"),
        (
            {"pinned": {"fetch": {}}, "pinned_errors": {"fetch": "boom"}},
            "fetch",
            "pinned_errors",
            "both an output and an error",
        ),
    ]
    for pins, node, field, message in cases:
        answer = await live_api.post(DRY_RUN, json={"definition": raw, **pins}, headers=headers)
        assert answer.status_code == 422, answer.text
        [issue] = answer.json()["detail"]
        assert (issue["node"], issue["field"]) == (node, field)
        assert message in issue["message"]


async def test_viewers_cannot_dry_run(live_api: httpx.AsyncClient) -> None:
    admin, viewer = await admin_and_viewer(live_api)
    raw = definition(transform("a", 1))
    assert (
        await live_api.post(DRY_RUN, json={"definition": raw}, headers=viewer)
    ).status_code == 403
    assert (
        await live_api.post(DRY_RUN, json={"definition": raw}, headers=admin)
    ).status_code == 200


async def test_a_credential_of_another_user_is_refused_as_saving_would(
    live_api: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    owner = await sign_up(live_api)
    other = await sign_up(live_api)
    await store_smtp(live_api, other, fake_smtp)
    raw = report_definition("https://example.com/items")
    inputs = {"team": "eng", "to": "ann@example.com"}

    answer = await live_api.post(DRY_RUN, json={"definition": raw, "inputs": inputs}, headers=owner)

    assert answer.status_code == 422
    assert answer.json()["detail"] == [
        {"node": "mail", "field": "credential", "message": "no credential named 'mailer'"}
    ]
    saved = await live_api.post("/api/workflows", json={"definition": raw}, headers=owner)
    assert saved.json()["detail"] == answer.json()["detail"]


@pytest.mark.parametrize("api_settings", ["sqlite"], indirect=True)
async def test_a_dry_run_nobody_runs_times_out_with_504_and_is_terminated(
    temporal_env: WorkflowEnvironment, api_settings: Settings
) -> None:
    address = temporal_env.client.service_client.config.target_host
    settings = api_settings.model_copy(
        update={"temporal_address": address, "dry_run_timeout_seconds": 0.5}
    )
    async with app_client(settings) as api:  # no worker polls this test's task queue
        headers = await sign_up(api)
        raw = definition(transform("a", 1))
        answer = await api.post(DRY_RUN, json={"definition": raw}, headers=headers)
        assert answer.status_code == 504
        assert "0.5 seconds" in answer.json()["detail"]

    async def statuses() -> list[WorkflowExecutionStatus | None]:
        query = f"TaskQueue = '{settings.temporal_task_queue}'"
        return [run.status async for run in temporal_env.client.list_workflows(query)]

    await eventually(statuses, lambda found: found == [WorkflowExecutionStatus.TERMINATED])


@pytest.mark.parametrize("api_settings", ["sqlite"], indirect=True)
async def test_temporal_unreachable_answers_503(api_settings: Settings) -> None:
    async with app_client(
        api_settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    ) as api:
        headers = await sign_up(api)
        raw = definition(transform("a", 1))
        answer = await api.post(DRY_RUN, json={"definition": raw}, headers=headers)
        assert answer.status_code == 503
        assert "Temporal" in answer.json()["detail"]


async def test_node_types_serve_the_sample_output_a_dry_run_uses(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)
    served = {
        entry["type"]: entry for entry in (await api.get("/api/node-types", headers=headers)).json()
    }
    assert served["http.request"]["sample_output"]["status"] == 200
    assert served["email.send"]["sample_output"]["accepted"] == ["ann@example.com"]
    assert served["transform"]["sample_output"] is None
    for name, entry in NODE_TYPES.items():
        assert served[name]["sample_output"] == entry.sample_output


# --- the interpreter and the catalog --------------------------------------------------------

EXAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "http.request": {"url": "https://example.com"},
    "email.send": {"to": "Ann <ann@example.com>", "text": "hi"},
    "llm.chat": {"prompt": "Say hi"},
    "slack.post_message": {"channel": "#eng", "text": "hi"},
    "notion.create_page": {"database_id": "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d", "title": "Hi"},
    "notion.query_database": {"database_id": "1a2b3c4d5e6f4a1b8c2d3e4f5a6b7c8d"},
    "sheets.append_rows": {"spreadsheet_id": "abc", "range": "Sheet1", "rows": [[1, 2, 3]] * 2},
    "sheets.read_range": {"spreadsheet_id": "abc", "range": "Sheet1"},
    "s3.put_object": {"bucket": "reports", "key": "a.json", "body": {"a": 1}},
    "s3.get_object": {"bucket": "reports", "key": "a.bin", "as": "base64"},
    "s3.list_objects": {"bucket": "reports", "prefix": "2026/"},
    "s3.presign_url": {"bucket": "reports", "key": "a.json", "method": "put", "expires": "1d"},
    "delay": {"duration": "1h"},
    "approval": {},
    "subworkflow": {"workflow": "child"},
}


def shape(value: Any) -> Any:
    """An output's top-level keys and the JSON types of their values."""
    if isinstance(value, dict):
        return {key: type(inner).__name__ for key, inner in value.items()}
    return type(value).__name__


@pytest.mark.parametrize("name", sorted(EXAMPLE_PARAMS))
def test_each_simulated_type_samples_its_declared_shape(name: str) -> None:
    entry = NODE_TYPES[name]
    assert entry.simulated_in_dry_run
    assert shape(entry.sample_for(EXAMPLE_PARAMS[name])) == shape(entry.sample_output)


def test_every_type_that_does_io_or_waits_has_example_params_here() -> None:
    simulated = {name for name, entry in NODE_TYPES.items() if entry.simulated_in_dry_run}
    assert simulated == set(EXAMPLE_PARAMS)


def test_an_llm_sample_answers_json_that_matches_the_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "priority": {"enum": ["high", "low"]},
            "score": {"type": ["number", "null"], "minimum": 1},
            "labels": {"type": "array", "items": {"$ref": "#/$defs/label"}},
        },
        "required": ["title", "priority", "score", "labels"],
        "additionalProperties": False,
        "$defs": {
            "label": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "done": {"type": "boolean"}},
            }
        },
    }
    answer = NODE_TYPES["llm.chat"].sample_for({"prompt": "Classify", "json_schema": schema})
    assert jsonschema_rs.validator_for(schema).is_valid(answer["json"])
    assert answer["json"] == schema_sample(schema, schema)
    assert answer["text"].startswith("{")


async def test_a_dry_run_still_checks_the_rendered_params_of_a_pinned_node(
    client: Client, settings: Settings, worker: Any
) -> None:
    checked = validate_definition(
        definition(
            {"id": "wait", "type": "delay", "params": {"duration": "{{ inputs.wait }}"}},
            inputs={"wait": {"type": "string"}},
        )
    )
    handle = await client.start_workflow(
        DagWorkflow.run,
        RunInput(
            definition=checked,
            inputs=resolve_inputs(checked, {"wait": "soon"}),
            dry_run=DryRun(pinned={"wait": {"waited_seconds": 1}}),
        ),
        id=f"dry-run-{uuid.uuid4()}",
        task_queue=settings.temporal_task_queue,
    )
    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "InvalidParams"
    assert "params.duration" in cause.message
