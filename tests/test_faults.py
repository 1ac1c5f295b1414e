"""Faults Flowpilot survives, with real processes (`cli api`, `worker`) on PostgreSQL.

- The API crashes (SIGKILL) with 100 runs in flight and a new API process takes over: every
  run finishes, and the database agrees with Temporal about each one.
- PostgreSQL is stopped for 30 s: the API answers 503, the worker's recording retries, and
  no run or result is lost once it is back.

"PostgreSQL stopped" is staged with a TCP proxy (tests/support/tcp_proxy.py). The PostgreSQL
server on this machine is shared with other tests and CI jobs, so it cannot be stopped;
instead the API and the worker reach it only through the proxy, and the proxy goes dark for
30 s: connecting is refused and every open connection is reset, which is what the processes
see of a stopped server. (A server stopped cleanly first sends "terminating connection due to
administrator command", SQLSTATE 57P01; core/db.py counts that as unreachable too.)
"""

import asyncio
import secrets
import signal
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
from sqlalchemy.engine import make_url
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from tests.support.api import POSTGRES_URL, create_workflow, reset_postgres, sign_up
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes, flowpilot_env, wait_ready
from tests.support.runs import eventually
from tests.support.tcp_proxy import TcpProxy

T = TypeVar("T")
RUNS_IN_FLIGHT = 100
OUTAGE_SECONDS = 30
FINISHED = {"succeeded", "failed", "cancelled"}
TEMPORAL_STATUS = {
    "pending": WorkflowExecutionStatus.RUNNING,
    "running": WorkflowExecutionStatus.RUNNING,
    "waiting": WorkflowExecutionStatus.RUNNING,
    "succeeded": WorkflowExecutionStatus.COMPLETED,
    "failed": WorkflowExecutionStatus.FAILED,
    "cancelled": WorkflowExecutionStatus.CANCELED,
}
"""The Temporal status each status of a run's row stands for."""


def flowpilot_processes(
    temporal_env: WorkflowEnvironment, database_url: str, logs: Path
) -> Processes:
    """API and worker settings shared by both processes (one secret key: the worker decrypts
    the credentials the API stored), on a task queue of their own."""
    return Processes(
        flowpilot_env(
            temporal_env.client.service_client.config.target_host,
            logs,
            database_url,
            DATABASE_POOL_SIZE="5",
            DATABASE_MAX_OVERFLOW="5",
        ),
        logs,
    )


def api_client(processes: Processes) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{processes.env['API_PORT']}", timeout=15)


async def runs_of(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str
) -> list[dict[str, Any]]:
    answer = await api.get(
        "/api/runs", params={"workflow_id": workflow_id, "limit": 200}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def start_run(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    workflow_id: str,
    inputs: dict[str, Any] | None = None,
) -> str:
    answer = await api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": inputs or {}}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def database_rows(query: str, *args: Any) -> list[asyncpg.Record]:
    """Rows read straight from PostgreSQL, past the API and the proxy."""
    url = make_url(POSTGRES_URL)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        rows: list[asyncpg.Record] = await connection.fetch(query, *args)
        return rows
    finally:
        await connection.close()


async def assert_database_agrees_with_temporal(
    temporal_env: WorkflowEnvironment, workflow_id: str, expected_runs: int
) -> None:
    """Each run's row has the status and the Temporal run id of its workflow execution."""
    rows = await database_rows(
        "SELECT status, temporal_workflow_id, temporal_run_id FROM runs WHERE workflow_id = $1",
        uuid.UUID(workflow_id),
    )
    assert len(rows) == expected_runs
    descriptions = await asyncio.gather(
        *(
            temporal_env.client.get_workflow_handle(row["temporal_workflow_id"]).describe()
            for row in rows
        )
    )
    disagreements = [
        (row["temporal_workflow_id"], row["status"], row["temporal_run_id"], found.status)
        for row, found in zip(rows, descriptions, strict=True)
        if (TEMPORAL_STATUS[row["status"]], row["temporal_run_id"]) != (found.status, found.run_id)
    ]
    assert disagreements == []


SLOW_RUN = {
    "name": "A few seconds",
    "nodes": [
        {"id": "first", "type": "transform", "params": {"value": "started"}},
        {"id": "pause", "type": "delay", "needs": ["first"], "params": {"duration": "5s"}},
        {
            "id": "last",
            "type": "transform",
            "needs": ["pause"],
            "params": {"value": "{{ nodes.first.output }}, then waited"},
        },
    ],
    "output": "{{ nodes.last.output }}",
}


async def test_runs_in_flight_when_the_api_crashes_finish_and_the_database_agrees_with_temporal(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    await reset_postgres(POSTGRES_URL)
    processes = flowpilot_processes(temporal_env, POSTGRES_URL, tmp_path)
    try:
        first_api = processes.start("api", "-m", "cli", "api")
        processes.start("worker", "-m", "worker")
        async with api_client(processes) as api:
            await wait_ready(api, first_api)
            headers = await sign_up(api)
            workflow = await create_workflow(api, headers, SLOW_RUN)
            starting = asyncio.Semaphore(10)

            async def start_one() -> str:
                async with starting:
                    return await start_run(api, headers, workflow["id"])

            run_ids = await asyncio.gather(*(start_one() for _ in range(RUNS_IN_FLIGHT)))
            in_flight = [
                run
                for run in await runs_of(api, headers, workflow["id"])
                if run["status"] not in FINISHED
            ]
            # A crash, not a clean stop: no drain, no shutdown hook; the worker carries on.
            first_api.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first_api.wait, 10)
            assert len(in_flight) >= RUNS_IN_FLIGHT // 2, "most runs should still be running"

            second_api = processes.start("api-restarted", "-m", "cli", "api")
            await wait_ready(api, second_api)
            runs = await eventually(
                lambda: runs_of(api, headers, workflow["id"]),
                lambda runs: all(run["status"] in FINISHED for run in runs),
                within=90,
                interval=0.5,
            )

            assert sorted(run["id"] for run in runs) == sorted(run_ids)
            assert {run["status"] for run in runs} == {"succeeded"}
            for run_id in run_ids:
                answer = await api.get(f"/api/runs/{run_id}", headers=headers)
                assert answer.status_code == 200, answer.text
                run = answer.json()
                assert run["output"] == "started, then waited"
                nodes = {node["node_id"]: node for node in run["nodes"]}
                assert {node_id: node["status"] for node_id, node in nodes.items()} == {
                    "first": "succeeded",
                    "pause": "succeeded",
                    "last": "succeeded",
                }
                assert nodes["pause"]["output"] == {"waited_seconds": 5.0}
                assert nodes["last"]["output"] == "started, then waited"
        await assert_database_agrees_with_temporal(temporal_env, workflow["id"], RUNS_IN_FLIGHT)
    finally:
        processes.stop_all()


THROUGH_THE_OUTAGE_RUNS = 4
PAUSE_SECONDS = 8
TOKEN = "outage-" + secrets.token_hex(8)


def through_the_outage(local_http: LocalHttpServer) -> dict[str, Any]:
    """Two branches: a credentialed call whose first attempt fails, so its retry (and the
    credential lookup that comes with it) falls in the outage, and a pause that ends in the
    outage, so the step that records it must wait for the database."""
    return {
        "name": "Through the outage",
        "inputs": {"slot": {"type": "string"}},
        "nodes": [
            {
                "id": "call",
                "type": "http.request",
                "credential": "service",
                "params": {"url": local_http.url("/flaky/") + "{{ inputs.slot }}"},
            },
            {"id": "pause", "type": "delay", "params": {"duration": f"{PAUSE_SECONDS}s"}},
            {
                "id": "last",
                "type": "transform",
                "needs": ["call", "pause"],
                "params": {"value": "{{ nodes.call.output.body.slot }}"},
            },
        ],
        "output": "{{ nodes.last.output }}",
    }


async def test_a_30_s_database_outage_answers_503_and_loses_no_run_or_result(
    temporal_env: WorkflowEnvironment, local_http: LocalHttpServer, tmp_path: Path
) -> None:
    await reset_postgres(POSTGRES_URL)
    slots = [str(slot) for slot in range(THROUGH_THE_OUTAGE_RUNS)]
    for slot in slots:
        local_http.route(
            f"/flaky/{slot}", responses=[(503, {"busy": True}), (200, {"slot": slot})], delay=1.5
        )
    database = make_url(POSTGRES_URL)
    with TcpProxy(database.host or "127.0.0.1", database.port or 5432) as proxy:
        through_proxy = database.set(host="127.0.0.1", port=proxy.port)
        processes = flowpilot_processes(
            temporal_env, through_proxy.render_as_string(hide_password=False), tmp_path
        )
        try:
            api_process = processes.start("api", "-m", "cli", "api")
            processes.start("worker", "-m", "worker")
            async with api_client(processes) as api:
                await wait_ready(api, api_process)
                headers = await sign_up(api)
                stored = await api.post(
                    "/api/credentials",
                    json={"name": "service", "kind": "bearer", "data": {"token": TOKEN}},
                    headers=headers,
                )
                assert stored.status_code == 201, stored.text
                workflow = await create_workflow(api, headers, through_the_outage(local_http))
                run_ids = [
                    await start_run(api, headers, workflow["id"], {"slot": slot}) for slot in slots
                ]

                async def first_calls() -> list[int]:
                    return [local_http.hits(f"/flaky/{slot}") for slot in slots]

                await eventually(first_calls, lambda hits: min(hits) >= 1, 20, interval=0.5)
                assert await paused_nodes_recorded(run_ids) == {"running"}
                proxy.stop()
                outage_began = time.monotonic()
                outage_began_at = datetime.now(UTC)

                await assert_the_api_answers_503(api, headers, workflow["id"], run_ids[0])
                await assert_runs_keep_going(temporal_env, run_ids)
                await asyncio.sleep(PAUSE_SECONDS + 2 - (time.monotonic() - outage_began))
                # Every pause has ended in Temporal; none of those ends reached the database.
                assert await paused_nodes_recorded(run_ids) == {"running"}
                assert time.monotonic() - outage_began < OUTAGE_SECONDS, "checks overran"
                await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - outage_began))
                outage_ended_at = datetime.now(UTC)
                proxy.start()

                await eventually(
                    lambda: api.get("/api/workflows", headers=headers), _ok, 15, interval=0.5
                )
                assert (await api.get("/readyz")).status_code == 200
                runs = await eventually(
                    lambda: runs_of(api, headers, workflow["id"]),
                    lambda runs: all(run["status"] in FINISHED for run in runs),
                    within=60,
                    interval=0.5,
                )
                assert sorted(run["id"] for run in runs) == sorted(run_ids)
                assert {run["status"] for run in runs} == {"succeeded"}
                for slot, run_id in zip(slots, run_ids, strict=True):
                    run = (await api.get(f"/api/runs/{run_id}", headers=headers)).json()
                    assert_recorded_in_full(run, slot, outage_began_at, outage_ended_at)
                    _busy, retried = local_http.requests(f"/flaky/{slot}")
                    assert retried.headers["authorization"] == f"Bearer {TOKEN}"
            # The start refused in the outage left no row and no workflow execution.
            await assert_database_agrees_with_temporal(
                temporal_env, workflow["id"], THROUGH_THE_OUTAGE_RUNS
            )
            queue = processes.env["TEMPORAL_TASK_QUEUE"]
            executions = temporal_env.client.list_workflows(f"TaskQueue = '{queue}'")
            assert len([execution async for execution in executions]) == THROUGH_THE_OUTAGE_RUNS
            # The recording activity's attempts that failed, retried until the database was back.
            assert "DatabaseUnavailable" in processes.log_of("worker")
        finally:
            processes.stop_all()


def _ok(answer: httpx.Response) -> bool:
    return answer.status_code == 200


async def paused_nodes_recorded(run_ids: list[str]) -> set[str]:
    """The statuses the database holds for the runs' `pause` nodes."""
    rows = await database_rows(
        "SELECT status FROM tasks WHERE node_id = 'pause' AND run_id = ANY($1::uuid[])",
        [uuid.UUID(run_id) for run_id in run_ids],
    )
    assert len(rows) == len(run_ids)
    return {row["status"] for row in rows}


async def assert_the_api_answers_503(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, run_id: str
) -> None:
    """Every database-backed route says so promptly (the client's timeout is 15 s), and
    starting a run is refused before anything reaches Temporal."""
    answers = [
        await api.get("/api/workflows", headers=headers),
        await api.get(f"/api/runs/{run_id}", headers=headers),
        await api.post(
            f"/api/workflows/{workflow_id}/runs", json={"inputs": {"slot": "0"}}, headers=headers
        ),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == {"detail": "the database is unavailable; try again shortly"}
        assert int(answer.headers["Retry-After"]) > 0
    ready = await api.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] != "ok"
    assert checks["temporal"] == "ok"


def assert_recorded_in_full(
    run: dict[str, Any], slot: str, outage_began_at: datetime, outage_ended_at: datetime
) -> None:
    assert run["output"] == slot
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert {node_id: node["status"] for node_id, node in nodes.items()} == {
        "call": "succeeded",
        "pause": "succeeded",
        "last": "succeeded",
    }
    # The outage cost the call no attempt: its retry waited for the credential.
    assert nodes["call"]["attempts"] == 2
    assert nodes["call"]["output"]["body"] == {"slot": slot}
    # The pause ended in the outage and was recorded once the database was back.
    ended = datetime.fromisoformat(nodes["pause"]["finished_at"])
    assert outage_began_at < ended < outage_ended_at
    assert nodes["pause"]["output"] == {"waited_seconds": float(PAUSE_SECONDS)}
    assert nodes["last"]["output"] == slot


async def assert_runs_keep_going(temporal_env: WorkflowEnvironment, run_ids: list[str]) -> None:
    rows = await database_rows(
        "SELECT temporal_workflow_id FROM runs WHERE id = ANY($1::uuid[])",
        [uuid.UUID(run_id) for run_id in run_ids],
    )
    assert len(rows) == len(run_ids)
    for row in rows:
        handle = temporal_env.client.get_workflow_handle(row["temporal_workflow_id"])
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
