"""DagWorkflow on a real Temporal dev server, with HTTP nodes against a real local server."""

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, CancelledError

from core.config import Settings
from tests.support.local_http import LocalHttpServer
from tests.support.runs import definition, eventually, max_overlap, node_status, start_run
from workflows.dag import ApprovalDecision, DagWorkflow, RunInput
from workflows.definition import Definition

pytestmark = pytest.mark.usefixtures("worker")


def http_node(node_id: str, url: str, **fields: Any) -> dict[str, Any]:
    params = fields.pop("params", {})
    return {"id": node_id, "type": "http.request", "params": {"url": url, **params}, **fields}


def transform(node_id: str, value: Any, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "transform", "params": {"value": value}, **fields}


async def failure_of(handle: Any) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_diamond_runs_its_middle_nodes_concurrently(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/left", responses=[(200, {"side": "left"}, {})], delay=0.6)
    local_http.route("/right", responses=[(200, {"side": "right"}, {})], delay=0.6)
    handle = await start_run(
        client,
        settings,
        definition(
            transform("start", "go"),
            http_node("left", local_http.url("/left"), needs=["start"]),
            http_node("right", local_http.url("/right"), needs=["start"]),
            transform(
                "join",
                "{{ nodes.left.output.body.side }}+{{ nodes.right.output.body.side }}",
                needs=["left", "right"],
            ),
            output="{{ nodes.join.output }}",
        ),
    )
    result = await handle.result()
    assert result.output == "left+right"
    intervals = [
        (request.started, request.finished)
        for path in ("/left", "/right")
        for request in local_http.requests(path)
    ]
    assert max_overlap(intervals) == 2, intervals


async def test_max_parallel_bounds_running_nodes(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/slow", responses=[(200, "ok", {})], delay=0.3)
    nodes = [http_node(f"call_{n}", local_http.url("/slow")) for n in range(6)]
    handle = await start_run(client, settings, definition(*nodes, defaults={"max_parallel": 2}))
    await handle.result()
    intervals = [(r.started, r.finished) for r in local_http.requests("/slow")]
    assert len(intervals) == 6
    assert max_overlap(intervals) == 2


async def test_when_false_skips_the_node_and_its_dependents_but_not_join_any(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            transform("check", False),
            transform("branch", "ran", needs=["check"], when="{{ nodes.check.output }}"),
            transform("after_branch", "ran", needs=["branch"]),
            transform("other", "ran", needs=["check"]),
            transform("merge", "merged", needs=["after_branch", "other"], join="any"),
            transform("strict_merge", "merged", needs=["after_branch", "other"]),
        ),
    )
    result = await handle.result()
    statuses = {node_id: node.status for node_id, node in result.nodes.items()}
    assert statuses == {
        "check": "succeeded",
        "branch": "skipped",
        "after_branch": "skipped",
        "other": "succeeded",
        "merge": "succeeded",
        "strict_merge": "skipped",
    }


async def test_on_error_continue_lets_dependents_run_with_the_error(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/missing", responses=[(404, {"message": "no such thing"}, {})])
    handle = await start_run(
        client,
        settings,
        definition(
            http_node("lookup", local_http.url("/missing"), on_error="continue"),
            transform("report", "{{ nodes.lookup.output.error }}", needs=["lookup"]),
            output="{{ nodes.report.output }}",
        ),
    )
    result = await handle.result()
    assert result.status == "succeeded"
    assert result.nodes["lookup"].status == "failed"
    assert "404" in result.output


async def test_on_failure_handlers_run_with_the_error_in_context(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/broken", responses=[(400, {"message": "bad"}, {})])
    local_http.route("/alert", responses=[(200, {}, {})])
    handle = await start_run(
        client,
        settings,
        definition(
            http_node("call", local_http.url("/broken")),
            transform("never", "x", needs=["call"]),
            on_failure=[
                http_node(
                    "alert",
                    local_http.url("/alert"),
                    params={
                        "method": "POST",
                        "json": {"node": "{{ error.node }}", "message": "{{ error.message }}"},
                    },
                )
            ],
        ),
    )
    failure = await failure_of(handle)
    assert "node 'call' failed" in failure.message
    assert failure.type == "HttpStatusError"
    [alert] = local_http.requests("/alert")
    assert alert.json()["node"] == "call"
    assert "400" in alert.json()["message"]
    state = await handle.query(DagWorkflow.status)
    assert state.status == "failed"
    assert state.nodes["never"].status == "cancelled"


async def test_flaky_endpoint_succeeds_on_the_third_attempt(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route(
        "/flaky", responses=[(500, "down", {}), (503, "down", {}), (200, {"ok": True}, {})]
    )
    handle = await start_run(
        client,
        settings,
        definition(
            http_node(
                "call",
                local_http.url("/flaky"),
                retry={"max_attempts": 5, "initial_interval": "100ms", "backoff": 1.0},
            )
        ),
    )
    result = await handle.result()
    assert result.nodes["call"].status == "succeeded"
    assert result.nodes["call"].attempts == 3
    assert result.nodes["call"].output["body"] == {"ok": True}
    assert local_http.hits("/flaky") == 3


async def test_rate_limited_call_waits_for_retry_after_before_the_next_attempt(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route(
        "/limited", responses=[(429, "slow down", {"Retry-After": "2"}), (200, {"ok": True}, {})]
    )
    handle = await start_run(
        client,
        settings,
        definition(
            http_node("call", local_http.url("/limited"), retry={"initial_interval": "100ms"})
        ),
    )
    result = await handle.result()
    assert result.nodes["call"].attempts == 2
    first, second = local_http.requests("/limited")
    assert second.started - first.finished >= 1.9, "Retry-After overrides the 100ms backoff"


async def test_not_found_is_not_retried(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/gone", responses=[(404, "nope", {})])
    handle = await start_run(
        client,
        settings,
        definition(http_node("call", local_http.url("/gone"), retry={"initial_interval": "100ms"})),
    )
    failure = await failure_of(handle)
    assert failure.type == "HttpStatusError"
    assert local_http.hits("/gone") == 1


async def test_node_timeout_fails_the_run_with_a_clear_error(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/hang", responses=[(200, "late", {})], delay=3)
    handle = await start_run(
        client,
        settings,
        definition(
            http_node("call", local_http.url("/hang"), timeout="1s", retry={"max_attempts": 1})
        ),
    )
    failure = await failure_of(handle)
    assert "node 'call' failed" in failure.message
    assert "timed out" in failure.message


async def test_idempotency_key_is_run_id_and_node_id(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/charge", responses=[(200, {}, {})])
    handle = await start_run(
        client, settings, definition(http_node("charge", local_http.url("/charge")))
    )
    await handle.result()
    [request] = local_http.requests("/charge")
    assert request.headers["idempotency-key"] == f"{handle.id}:charge"


async def test_undefined_template_name_fails_the_node_naming_node_and_param(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            transform("first", {"a": 1}),
            transform("second", "{{ nodes.first.output.missing }}", needs=["first"]),
        ),
    )
    failure = await failure_of(handle)
    assert failure.type == "TemplateError"
    assert "node 'second'" in failure.message
    assert "param 'value'" in failure.message
    assert "missing" in failure.message


async def test_inputs_and_output_template_keep_native_types(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            transform("double", "{{ inputs.numbers | map('int') | sum * 2 }}"),
            inputs={"numbers": {"type": "array"}},
            output={"total": "{{ nodes.double.output }}", "count": "{{ inputs.numbers|length }}"},
        ),
        inputs={"numbers": [1, 2, 3]},
    )
    result = await handle.result()
    assert result.output == {"total": 12, "count": 3}


async def test_foreach_returns_every_output_in_item_order(client: Any, settings: Settings) -> None:
    items = list(range(500))
    handle = await start_run(
        client,
        settings,
        definition(
            {
                "id": "each",
                "type": "foreach",
                "params": {
                    "items": "{{ inputs.items }}",
                    "concurrency": 10,
                    "nodes": [transform("square", "{{ item * item }}")],
                },
            },
            inputs={"items": {"type": "array"}},
            output="{{ nodes.each.output }}",
        ),
        inputs={"items": items},
    )
    result = await handle.result()
    assert result.output == [n * n for n in items]


async def test_foreach_of_ten_thousand_items_keeps_every_history_small(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            {
                "id": "each",
                "type": "foreach",
                "params": {
                    "items": "{{ range(10000) | list }}",
                    "concurrency": 50,
                    "nodes": [transform("label", "item-{{ item }}")],
                },
            },
        ),
    )
    result = await handle.result()
    assert result.nodes["each"].output == [f"item-{n}" for n in range(10000)]
    parent_events = len((await handle.fetch_history()).events)
    child_events = len(
        (await client.get_workflow_handle(f"{handle.id}/each/0").fetch_history()).events
    )
    assert parent_events < 1000, "100 child workflows, not 10,000"
    assert child_events < 100, "a batch of pure items costs no events per item"


async def test_foreach_bounds_concurrency_and_runs_activities_per_item(
    client: Any, settings: Settings, local_http: LocalHttpServer
) -> None:
    local_http.route("/item", responses=[(200, {"ok": True}, {})], delay=0.2)
    handle = await start_run(
        client,
        settings,
        definition(
            transform("prefix", "n"),
            {
                "id": "each",
                "type": "foreach",
                "needs": ["prefix"],
                "params": {
                    "items": "{{ range(24) | list }}",
                    "concurrency": 4,
                    "batch_size": 5,
                    "nodes": [
                        http_node(
                            "call",
                            local_http.url("/item"),
                            params={"query": {"n": "{{ nodes.prefix.output }}{{ index }}"}},
                        )
                    ],
                    "output": "{{ nodes.call.output.status }}-{{ item }}",
                },
            },
        ),
    )
    result = await handle.result()
    assert result.nodes["each"].output == [f"200-{n}" for n in range(24)]
    requests = local_http.requests("/item")
    assert sorted(r.query["n"][0] for r in requests) == sorted(f"n{n}" for n in range(24))
    assert 1 < max_overlap([(r.started, r.finished) for r in requests]) <= 4


async def test_foreach_item_failure_fails_the_node_naming_the_item(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            {
                "id": "each",
                "type": "foreach",
                "params": {
                    "items": [1, 2, 0, 4],
                    "nodes": [transform("invert", "{{ 10 // item }}")],
                },
            }
        ),
    )
    failure = await failure_of(handle)
    assert "node 'each' failed" in failure.message
    assert "item 2" in failure.message
    assert "node 'invert'" in failure.message


def approval_definition(**params: Any) -> dict[str, Any]:
    return definition(
        {"id": "gate", "type": "approval", "params": {"message": "Ship it?", **params}},
        transform("after", "{{ nodes.gate.output }}", needs=["gate"]),
        output="{{ nodes.after.output }}",
    )


async def test_approval_approved_continues_with_the_decision(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(client, settings, approval_definition())
    await eventually(lambda: handle.query(DagWorkflow.status), lambda s: s.status == "waiting")
    await handle.signal(
        DagWorkflow.approve, ApprovalDecision(node_id="gate", approved=True, by="ana", comment="ok")
    )
    result = await handle.result()
    assert result.output == {"approved": True, "by": "ana", "comment": "ok", "timed_out": False}


async def test_approval_rejected_fails_the_run(client: Any, settings: Settings) -> None:
    handle = await start_run(client, settings, approval_definition())
    await eventually(lambda: node_status(handle, "gate"), lambda status: status == "waiting")
    await handle.signal(
        DagWorkflow.approve, ApprovalDecision(node_id="gate", approved=False, by="bo")
    )
    failure = await failure_of(handle)
    assert failure.type == "ApprovalRejected"
    assert "rejected by bo" in failure.message


async def test_approval_timeout_resumes_with_the_default_decision(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client, settings, approval_definition(timeout="1s", timeout_decision="approve")
    )
    result = await handle.result()
    assert result.output["approved"] is True
    assert result.output["timed_out"] is True

    rejecting = await start_run(client, settings, approval_definition(timeout="1s"))
    failure = await failure_of(rejecting)
    assert "no decision before the timeout" in failure.message


async def test_cancel_mid_run_cancels_the_running_node(client: Any, settings: Settings) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            transform("first", 1),
            {"id": "wait", "type": "delay", "needs": ["first"], "params": {"duration": "1h"}},
            transform("after", 2, needs=["wait"]),
        ),
    )
    await eventually(lambda: node_status(handle, "wait"), lambda status: status == "running")
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as raised:
        await handle.result()
    assert isinstance(raised.value.cause, CancelledError)
    state = await handle.query(DagWorkflow.status)
    assert state.status == "cancelled"
    assert state.nodes["first"].status == "succeeded"
    assert state.nodes["wait"].status == "cancelled"
    assert state.nodes["after"].status == "cancelled"


async def test_delay_waits_durably_then_continues(client: Any, settings: Settings) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            {"id": "wait", "type": "delay", "params": {"duration": "500ms"}},
            transform("after", "done", needs=["wait"]),
        ),
    )
    result = await handle.result()
    assert result.nodes["wait"].output == {"waited_seconds": 0.5}
    assert result.nodes["after"].status == "succeeded"


async def test_rendered_params_are_checked_against_the_schema(
    client: Any, settings: Settings
) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            {"id": "wait", "type": "delay", "params": {"duration": "{{ inputs.wait }}"}},
            inputs={"wait": {"type": "string"}},
        ),
        inputs={"wait": "soon"},
    )
    failure = await failure_of(handle)
    assert failure.type == "InvalidParams"
    assert "params.duration" in failure.message


async def test_status_query_reports_live_progress(client: Any, settings: Settings) -> None:
    handle = await start_run(
        client,
        settings,
        definition(
            transform("first", 1),
            {"id": "wait", "type": "delay", "needs": ["first"], "params": {"duration": "2s"}},
        ),
    )
    state = await eventually(
        lambda: handle.query(DagWorkflow.status), lambda s: s.nodes["wait"].status == "running"
    )
    assert state.status == "running"
    assert state.nodes["first"].status == "succeeded"
    assert state.nodes["first"].started_at is not None
    await handle.result()


async def test_runs_in_parallel_do_not_interfere(client: Any, settings: Settings) -> None:
    handles = [
        await start_run(
            client,
            settings,
            definition(
                transform("echo", "{{ inputs.n }}"),
                inputs={"n": {"type": "integer"}},
                output="{{ nodes.echo.output }}",
            ),
            inputs={"n": n},
        )
        for n in range(10)
    ]
    results = await asyncio.gather(*(handle.result() for handle in handles))
    assert [result.output for result in results] == list(range(10))


async def test_a_definition_that_skipped_validation_fails_cleanly(
    client: Any, settings: Settings
) -> None:
    unchecked = Definition.model_validate(
        definition(transform("a", 1), {"id": "b", "type": "teleport", "needs": ["a"]})
    )
    handle = await client.start_workflow(
        DagWorkflow.run,
        RunInput(definition=unchecked),
        id=f"run-{uuid.uuid4().hex[:12]}",
        task_queue=settings.temporal_task_queue,
    )
    failure = await failure_of(handle)
    assert failure.type == "InvalidDefinition"
    assert "node 'b', field 'type'" in failure.message
