"""Runs through the API: started on Temporal, recorded node by node in the database."""

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.models import AuditLog
from tests.support.api import sign_up, user_id
from tests.support.local_http import LocalHttpServer
from tests.support.runs import eventually


def weather_definition(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Weather",
        "inputs": {"city": {"type": "string"}},
        "nodes": [
            {
                "id": "fetch",
                "type": "http.request",
                "params": {"url": url, "query": {"q": "{{ inputs.city }}"}},
                "retry": {"initial_interval": "100ms"},
            },
            {
                "id": "report",
                "type": "transform",
                "needs": ["fetch"],
                "params": {"value": "{{ inputs.city }}: {{ nodes.fetch.output.body.temp }}"},
            },
        ],
        "output": "{{ nodes.report.output }}",
        **fields,
    }


async def create(
    api: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any]
) -> str:
    created = await api.post("/api/workflows", json={"definition": definition}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def start(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, **inputs: Any
) -> str:
    answer = await api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": inputs}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def run_when(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    run_id: str,
    check: Callable[[dict[str, Any]], bool],
    within: float = 15,
) -> dict[str, Any]:
    """The run as the API shows it, once `check` holds for it."""

    async def read() -> dict[str, Any]:
        answer = await api.get(f"/api/runs/{run_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    return await eventually(read, check, within=within)


async def finished(api: httpx.AsyncClient, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    return await run_when(
        api, headers, run_id, lambda run: run["status"] in ("succeeded", "failed", "cancelled"), 30
    )


async def test_a_run_is_recorded_node_by_node_with_inputs_outputs_and_timings(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/weather", responses=[(500, "busy", {}), (200, {"temp": 21}, {})])
    headers = await sign_up(live_api)
    workflow_id = await create(live_api, headers, weather_definition(local_http.url("/weather")))

    started = await live_api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": {"city": "Paris"}}, headers=headers
    )
    assert started.status_code == 201, started.text
    assert started.json()["temporal_url"].startswith("http://localhost:8233/namespaces/default/")
    run = await finished(live_api, headers, started.json()["id"])

    assert run["status"] == "succeeded"
    assert run["output"] == "Paris: 21"
    assert run["inputs"] == {"city": "Paris"}
    assert run["started_at"] and run["finished_at"]
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert nodes["fetch"]["status"] == "succeeded"
    assert nodes["fetch"]["attempts"] == 2
    assert nodes["fetch"]["input"]["query"] == {"q": "Paris"}
    assert nodes["fetch"]["output"]["body"] == {"temp": 21}
    assert nodes["fetch"]["started_at"] <= nodes["fetch"]["finished_at"]
    assert nodes["report"]["output"] == "Paris: 21"
    assert nodes["report"]["attempts"] == 1  # a transform: done in one try, in the workflow

    history = await live_api.get(
        "/api/runs", params={"workflow_id": workflow_id, "status": "succeeded"}, headers=headers
    )
    assert [item["id"] for item in history.json()["items"]] == [run["id"]]
    metrics = (await live_api.get("/metrics")).text
    assert 'flowpilot_runs{status="succeeded"} 1.0' in metrics
    assert 'flowpilot_runs_started_total{trigger="manual"}' in metrics


async def test_a_failed_run_records_the_failed_node_and_the_error(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route(
        "/weather", responses=[(503, "busy", {}), (404, {"error": "unknown city"}, {})]
    )
    headers = await sign_up(live_api)
    workflow_id = await create(live_api, headers, weather_definition(local_http.url("/weather")))
    started = await live_api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": {"city": "Atlantis"}}, headers=headers
    )
    run = await finished(live_api, headers, started.json()["id"])
    assert run["status"] == "failed"
    assert "node 'fetch' failed" in run["error"]
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert nodes["fetch"]["status"] == "failed"
    assert "404" in nodes["fetch"]["error"]
    assert nodes["fetch"]["attempts"] == 2  # a 503 retried, then a 404 that is not
    assert nodes["report"]["status"] == "cancelled"


async def test_run_inputs_are_checked_against_the_definition(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    workflow_id = await create(live_api, headers, weather_definition("https://example.com/"))
    missing = await live_api.post(f"/api/workflows/{workflow_id}/runs", json={}, headers=headers)
    wrong = await live_api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": {"city": 3}}, headers=headers
    )
    assert missing.status_code == wrong.status_code == 422
    assert missing.json()["detail"][0]["field"] == "inputs.city"
    assert (await live_api.get("/api/runs", headers=headers)).json()["items"] == []


async def test_approval_through_the_api_and_a_second_decision_is_refused(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    definition = {
        "name": "Gate",
        "nodes": [
            {"id": "gate", "type": "approval", "params": {"message": "ok?"}},
            {"id": "after", "type": "transform", "needs": ["gate"], "params": {"value": 1}},
        ],
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)
    await run_when(live_api, headers, run_id, lambda run: run["status"] == "waiting")
    approved = await live_api.post(
        f"/api/runs/{run_id}/approve",
        json={"node_id": "gate", "approved": True, "comment": "ship it"},
        headers=headers,
    )
    assert approved.status_code == 202
    run = await finished(live_api, headers, run_id)
    assert run["status"] == "succeeded"
    gate = next(node for node in run["nodes"] if node["node_id"] == "gate")
    assert gate["output"]["approved"] is True
    assert gate["output"]["comment"] == "ship it"
    assert gate["output"]["by"].endswith("@example.com")
    again = await live_api.post(
        f"/api/runs/{run_id}/approve", json={"node_id": "gate", "approved": False}, headers=headers
    )
    assert again.status_code == 409


async def test_cancel_through_the_api_records_a_cancelled_run(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    definition = {
        "name": "Slow",
        "nodes": [{"id": "wait", "type": "delay", "params": {"duration": "1h"}}],
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)
    await run_when(
        live_api, headers, run_id, lambda run: run["status"] == "running" and bool(run["nodes"])
    )
    assert (await live_api.post(f"/api/runs/{run_id}/cancel", headers=headers)).status_code == 202
    run = await finished(live_api, headers, run_id)
    assert run["status"] == "cancelled"
    assert run["nodes"][0]["status"] == "cancelled"
    again = await live_api.post(f"/api/runs/{run_id}/cancel", headers=headers)
    assert again.status_code == 409


async def test_other_users_get_404_and_viewers_403_on_runs(live_api: httpx.AsyncClient) -> None:
    admin = await sign_up(live_api)
    owner = await sign_up(live_api)
    stranger = await sign_up(live_api)
    definition = {"name": "T", "nodes": [{"id": "a", "type": "transform", "params": {"value": 1}}]}
    workflow_id = await create(live_api, owner, definition)
    run_id = (
        await live_api.post(f"/api/workflows/{workflow_id}/runs", json={}, headers=owner)
    ).json()["id"]
    await finished(live_api, owner, run_id)

    assert (await live_api.get(f"/api/runs/{run_id}", headers=stranger)).status_code == 404
    for action in ("cancel", "approve"):
        body = {"node_id": "a", "approved": True} if action == "approve" else None
        answer = await live_api.post(f"/api/runs/{run_id}/{action}", json=body, headers=stranger)
        assert answer.status_code == 404
    assert (await live_api.get("/api/runs", headers=stranger)).json()["items"] == []
    stranger_start = await live_api.post(
        f"/api/workflows/{workflow_id}/runs", json={}, headers=stranger
    )
    assert stranger_start.status_code == 404
    assert (await live_api.get(f"/api/runs/{run_id}", headers=admin)).status_code == 200

    stranger_id = await user_id(live_api, stranger)
    await live_api.patch(f"/api/users/{stranger_id}", json={"role": "viewer"}, headers=admin)
    own_workflow = await create(live_api, admin, definition)
    await live_api.patch(
        f"/api/users/{await user_id(live_api, owner)}", json={"role": "viewer"}, headers=admin
    )
    viewer_start = await live_api.post(f"/api/workflows/{workflow_id}/runs", json={}, headers=owner)
    assert viewer_start.status_code == 403
    assert own_workflow


@pytest.mark.parametrize("api_settings", ["postgresql"], indirect=True)
async def test_temporal_unreachable_answers_503_and_leaves_no_run(
    api_settings: Settings,
) -> None:
    from api.main import create_app

    settings = api_settings.model_copy(update={"temporal_address": "127.0.0.1:1"})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            headers = await sign_up(api)
            definition = {
                "name": "T",
                "nodes": [{"id": "a", "type": "transform", "params": {"value": 1}}],
            }
            workflow_id = await create(api, headers, definition)
            answer = await api.post(f"/api/workflows/{workflow_id}/runs", json={}, headers=headers)
            assert answer.status_code == 503
            assert "Temporal" in answer.json()["detail"]
            assert (await api.get("/api/runs", headers=headers)).json()["items"] == []
            async with app.state.sessions() as session:
                query = select(AuditLog).where(AuditLog.action == "run.start")
                assert (await session.exec(query)).all() == []


async def test_events_stream_node_changes_in_order_until_the_run_ends(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/step", responses=[(200, {"ok": True}, {})], delay=1.0)
    headers = await sign_up(live_api)
    definition = {
        "name": "Chain",
        "nodes": [
            {"id": "first", "type": "http.request", "params": {"url": local_http.url("/step")}},
            {
                "id": "second",
                "type": "http.request",
                "needs": ["first"],
                "params": {"url": local_http.url("/step")},
            },
        ],
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)

    answer = await live_api.get(f"/api/runs/{run_id}/events", headers=headers, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in answer.text.strip().split("\n\n"):
        kind_line, data_line = block.split("\n")
        events.append((kind_line.removeprefix("event: "), json.loads(data_line[6:])))
    node_events = [(data["node_id"], data["status"]) for kind, data in events if kind == "node"]
    assert ("first", "running") in node_events
    assert node_events.index(("first", "running")) < node_events.index(("first", "succeeded"))
    assert node_events.index(("first", "succeeded")) < node_events.index(("second", "running"))
    assert node_events.index(("second", "running")) < node_events.index(("second", "succeeded"))
    assert events[-1] == ("run", {"id": run_id, "status": "succeeded", "error": None})


async def test_retry_from_failure_reuses_succeeded_nodes_and_takes_new_params(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/first", responses=[(200, {"n": 1}, {})])
    local_http.route("/broken", responses=[(404, "gone", {})])
    local_http.route("/fixed", responses=[(200, {"n": 2}, {})])
    headers = await sign_up(live_api)
    definition = {
        "name": "Retry me",
        "nodes": [
            {"id": "first", "type": "http.request", "params": {"url": local_http.url("/first")}},
            {
                "id": "second",
                "type": "http.request",
                "needs": ["first"],
                "params": {"url": local_http.url("/broken")},
            },
            {
                "id": "total",
                "type": "transform",
                "needs": ["second"],
                "params": {"value": "{{ nodes.first.output.body.n + nodes.second.output.body.n }}"},
            },
        ],
        "output": "{{ nodes.total.output }}",
    }
    workflow_id = await create(live_api, headers, definition)
    first_run = await start(live_api, headers, workflow_id)
    assert (await finished(live_api, headers, first_run))["status"] == "failed"

    retried = await live_api.post(
        f"/api/runs/{first_run}/retry",
        json={"params": {"url": local_http.url("/fixed")}},
        headers=headers,
    )
    assert retried.status_code == 201, retried.text
    run = await finished(live_api, headers, retried.json()["id"])
    assert run["status"] == "succeeded"
    assert run["trigger"] == "retry"
    assert run["output"] == 3
    assert local_http.hits("/first") == 1, "the node that had succeeded is not run again"
    assert local_http.hits("/fixed") == 1
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert nodes["first"]["output"]["body"] == {"n": 1}
    succeeded_again = await live_api.post(f"/api/runs/{run['id']}/retry", json={}, headers=headers)
    assert succeeded_again.status_code == 409


async def test_a_credential_reaches_the_service_and_nothing_else(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer, temporal_env: WorkflowEnvironment
) -> None:
    canary = "canary-7f3a9-secret-token"
    local_http.route("/private", responses=[(200, {"ok": True}, {})])
    headers = await sign_up(live_api)
    stored = await live_api.post(
        "/api/credentials",
        json={"name": "service", "kind": "bearer", "data": {"token": canary}},
        headers=headers,
    )
    assert stored.status_code == 201, stored.text
    definition = {
        "name": "Private call",
        "nodes": [
            {
                "id": "call",
                "type": "http.request",
                "credential": "service",
                "params": {"url": local_http.url("/private")},
            }
        ],
        "output": "{{ nodes.call.output.body }}",
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    assert local_http.requests("/private")[0].headers["authorization"] == f"Bearer {canary}"
    responses = [
        await live_api.get(f"/api/runs/{run_id}", headers=headers),
        await live_api.get("/api/runs", headers=headers),
        await live_api.get("/api/credentials", headers=headers),
        await live_api.get(f"/api/workflows/{workflow_id}", headers=headers),
    ]
    assert all(canary not in answer.text for answer in responses)
    handle = temporal_env.client.get_workflow_handle(f"run-{run_id}")
    history = (await handle.fetch_history()).to_json()
    assert canary not in history
    app = live_api._transport.app  # type: ignore[attr-defined]
    async with app.state.sessions() as session:
        rows = (await session.exec(select(AuditLog))).all()
    assert any(row.action == "credential.use" for row in rows)
    assert all(canary not in str(row.details) for row in rows)


async def test_a_workflow_cannot_name_a_credential_its_owner_does_not_have(
    live_api: httpx.AsyncClient,
) -> None:
    owner = await sign_up(live_api)
    other = await sign_up(live_api)
    await live_api.post(
        "/api/credentials",
        json={"name": "theirs", "kind": "bearer", "data": {"token": "t"}},
        headers=other,
    )
    definition = {
        "name": "Borrow",
        "nodes": [
            {
                "id": "call",
                "type": "http.request",
                "credential": "theirs",
                "params": {"url": "https://example.com/"},
            }
        ],
    }
    refused = await live_api.post("/api/workflows", json={"definition": definition}, headers=owner)
    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {"node": "call", "field": "credential", "message": "no credential named 'theirs'"}
    ]


async def test_a_workflow_cannot_name_a_credential_of_a_kind_its_node_cannot_use(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    await live_api.post(
        "/api/credentials",
        json={"name": "mail", "kind": "bearer", "data": {"token": "t"}},
        headers=headers,
    )
    node = {
        "id": "send",
        "type": "email.send",
        "credential": "mail",
        "params": {"to": "a@example.com", "subject": "hi", "text": "hello"},
    }

    refused = await live_api.post(
        "/api/workflows", json={"definition": {"name": "Mail", "nodes": [node]}}, headers=headers
    )

    assert refused.status_code == 422
    assert refused.json()["detail"] == [
        {
            "node": "send",
            "field": "credential",
            "message": "credential 'mail' is of kind 'bearer'; 'email.send' nodes take smtp",
        }
    ]


async def test_a_single_node_runs_with_sample_data_and_nothing_is_saved(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/lookup", responses=[(200, {"found": True}, {})])
    headers = await sign_up(live_api)
    node = {
        "id": "lookup",
        "type": "http.request",
        "params": {
            "url": local_http.url("/lookup"),
            "query": {"user": "{{ nodes.login.output.name }}", "page": "{{ inputs.page }}"},
        },
    }
    answer = await live_api.post(
        "/api/workflows/test-node",
        json={"node": node, "inputs": {"page": 2}, "upstream": {"login": {"name": "ana"}}},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["status"] == "succeeded"
    assert result["input"]["query"] == {"user": "ana", "page": 2}
    assert result["output"]["body"] == {"found": True}
    assert local_http.requests("/lookup")[0].query == {"user": ["ana"], "page": ["2"]}
    assert (await live_api.get("/api/runs", headers=headers)).json()["items"] == []

    broken = {**node, "params": {"url": "{{ nodes.login.output.missing }}"}}
    failed = await live_api.post(
        "/api/workflows/test-node",
        json={"node": broken, "upstream": {"login": {"name": "ana"}}},
        headers=headers,
    )
    assert failed.json()["status"] == "failed"
    assert "missing" in failed.json()["error"]
    invalid = await live_api.post(
        "/api/workflows/test-node", json={"node": {"id": "x", "type": "nope"}}, headers=headers
    )
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["node"] == "x"


async def test_a_subworkflow_node_runs_another_saved_workflow_of_the_owner(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    greeter = {
        "name": "Greeter",
        "inputs": {"name": {"type": "string"}},
        "nodes": [
            {"id": "hello", "type": "transform", "params": {"value": "hi {{ inputs.name }}"}}
        ],
        "output": "{{ nodes.hello.output }}",
    }
    await create(live_api, headers, greeter)
    parent = {
        "name": "Parent",
        "inputs": {"who": {"type": "string"}},
        "nodes": [
            {
                "id": "greet",
                "type": "subworkflow",
                "params": {"workflow": "Greeter", "inputs": {"name": "{{ inputs.who }}"}},
            },
            {
                "id": "missing",
                "type": "subworkflow",
                "needs": ["greet"],
                "on_error": "continue",
                "params": {"workflow": "Nobody"},
            },
        ],
        "output": {
            "greeting": "{{ nodes.greet.output }}",
            "error": "{{ nodes.missing.output.error }}",
        },
    }
    parent_id = await create(live_api, headers, parent)
    run_id = (
        await live_api.post(
            f"/api/workflows/{parent_id}/runs", json={"inputs": {"who": "Ana"}}, headers=headers
        )
    ).json()["id"]
    run = await finished(live_api, headers, run_id)
    assert run["status"] == "succeeded", run
    assert run["output"]["greeting"] == "hi Ana"
    assert "no workflow 'Nobody'" in run["output"]["error"]


async def test_a_workflow_calling_itself_stops_at_the_nesting_limit(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    recursive = {
        "name": "Ouroboros",
        "nodes": [{"id": "again", "type": "subworkflow", "params": {"workflow": "Ouroboros"}}],
    }
    workflow_id = await create(live_api, headers, recursive)
    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)
    assert run["status"] == "failed"
    assert "nest deeper than 5" in run["error"]


async def test_inputs_over_the_limit_are_refused_before_anything_is_recorded(
    live_api: httpx.AsyncClient,
) -> None:
    """Inputs over what a run may be given: 422 naming them, no run row and no
    audit row (before the limit, the row was written and Temporal's refusal answered 503)."""
    headers = await sign_up(live_api)
    definition = {
        "name": "Big",
        "inputs": {"text": {"type": "string"}},
        "nodes": [{"id": "a", "type": "transform", "params": {"value": "{{ inputs.text }}"}}],
    }
    workflow_id = await create(live_api, headers, definition)
    too_big = {"inputs": {"text": "x" * 3_000_000}}
    answer = await live_api.post(
        f"/api/workflows/{workflow_id}/runs", json=too_big, headers=headers
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"] == ["body", "inputs"]
    assert "pass large data by URL" in problem["msg"]
    assert (await live_api.get("/api/runs", headers=headers)).json()["items"] == []
    async with live_api._transport.app.state.sessions() as session:  # type: ignore[attr-defined]
        query = select(AuditLog).where(AuditLog.action == "run.start")
        assert (await session.exec(query)).all() == []
