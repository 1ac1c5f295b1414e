"""Two API processes and two workers on one PostgreSQL, one Redis and one Temporal server.

Nothing a second replica needs lives in one process's memory: runs started through either
API complete, either API streams the other's runs, rate limits hold across both, and a
worker killed mid-run loses nothing.
"""

import json
import secrets
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from temporalio.testing import WorkflowEnvironment

from tests.support.api import POSTGRES_URL, reset_postgres
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes, free_port, wait_ready
from tests.support.runs import eventually

REDIS_URL = "redis://127.0.0.1:6379/9"
WEBHOOK_LIMIT = 3
PASSWORD = "correct horse battery"


@dataclass
class Cluster:
    apis: list[httpx.AsyncClient]
    workers: list[subprocess.Popen[bytes]]
    headers: dict[str, str] = field(default_factory=dict)

    async def run_of(self, api: int, run_id: str) -> dict[str, Any]:
        answer = await self.apis[api].get(f"/api/runs/{run_id}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def finished(self, api: int, run_id: str, within: float = 60) -> dict[str, Any]:
        return await eventually(
            lambda: self.run_of(api, run_id),
            lambda run: run["status"] in ("succeeded", "failed", "cancelled"),
            within=within,
        )


@pytest.fixture(scope="module")
async def cluster(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    await reset_postgres(POSTGRES_URL)
    store = aioredis.Redis.from_url(REDIS_URL)
    await store.flushdb()
    await store.aclose()
    logs = tmp_path_factory.mktemp("scale-out")
    processes = Processes(
        {
            "DATABASE_URL": POSTGRES_URL,
            "REDIS_URL": REDIS_URL,
            "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": f"scale-out-{uuid.uuid4().hex[:8]}",
            "FLOWPILOT_SECRET_KEY": secrets.token_urlsafe(32),
            "DATA_DIR": str(logs),
            "FRONTEND_DIR": str(logs / "no-frontend"),
            "HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
            "RATE_LIMIT_WEBHOOK_PER_MINUTE": str(WEBHOOK_LIMIT),
            "RATE_LIMIT_API_PER_MINUTE": "100000",
            "WORKER_METRICS_PORT": "0",
            "API_WORKERS": "1",
            "API_HOST": "127.0.0.1",
        },
        logs,
    )
    apis: list[httpx.AsyncClient] = []
    api_processes = []
    # Both APIs start together: their migrations must not trip over each other.
    for index in range(2):
        port = free_port()
        api_processes.append(
            processes.start(f"api-{index}", "-m", "cli", "api", API_PORT=str(port))
        )
        apis.append(httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30))
    workers = [processes.start(f"worker-{index}", "-m", "worker") for index in range(2)]
    try:
        for client, process in zip(apis, api_processes, strict=True):
            await wait_ready(client, process)
        email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
        registered = await apis[0].post(
            "/api/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        # Signed up on one API, signed in on the other: the token works on both.
        login = await apis[1].post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield Cluster(apis, workers, {"Authorization": f"Bearer {login.json()['access_token']}"})
    finally:
        for client in apis:
            await client.aclose()
        processes.stop_all()


async def create(cluster: Cluster, api: int, definition: dict[str, Any]) -> dict[str, Any]:
    answer = await cluster.apis[api].post(
        "/api/workflows", json={"definition": definition}, headers=cluster.headers
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def start_run(cluster: Cluster, api: int, workflow_id: str) -> str:
    answer = await cluster.apis[api].post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": {}}, headers=cluster.headers
    )
    assert answer.status_code == 201, answer.text
    run_id: str = answer.json()["id"]
    return run_id


async def stream_events(cluster: Cluster, api: int, run_id: str) -> list[tuple[str, Any]]:
    """Every server-sent event of the run's stream on `api`, until the stream ends."""
    events: list[tuple[str, Any]] = []
    name = ""
    async with cluster.apis[api].stream(
        "GET", f"/api/runs/{run_id}/events", headers=cluster.headers, timeout=60
    ) as stream:
        assert stream.status_code == 200
        async for line in stream.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    return events


SLOW_CHAIN = {
    "name": "Slow chain",
    "nodes": [
        {"id": "first", "type": "transform", "params": {"value": "one"}},
        {"id": "pause", "type": "delay", "needs": ["first"], "params": {"duration": "1s"}},
        {
            "id": "last",
            "type": "transform",
            "needs": ["pause"],
            "params": {"value": "{{ nodes.first.output }} then two"},
        },
    ],
    "output": "{{ nodes.last.output }}",
}


async def test_a_run_started_on_one_api_is_streamed_live_by_the_other(cluster: Cluster) -> None:
    workflow = await create(cluster, 1, SLOW_CHAIN)
    run_id = await start_run(cluster, 1, workflow["id"])

    events = await stream_events(cluster, 0, run_id)

    nodes = [data for name, data in events if name == "node"]
    assert [node["node_id"] for node in nodes if node["status"] == "succeeded"] == [
        "first",
        "pause",
        "last",
    ]
    assert events[-1] == ("run", {"id": run_id, "status": "succeeded", "error": None})
    run = await cluster.run_of(1, run_id)
    assert run["output"] == "one then two"


async def test_runs_started_through_either_api_complete(cluster: Cluster) -> None:
    workflow = await create(cluster, 0, SLOW_CHAIN)
    run_ids = [await start_run(cluster, index % 2, workflow["id"]) for index in range(6)]

    for index, run_id in enumerate(run_ids):
        run = await cluster.finished((index + 1) % 2, run_id)
        assert run["status"] == "succeeded", run
        assert [node["status"] for node in run["nodes"]] == ["succeeded"] * 3


async def test_a_webhook_limit_holds_across_both_apis(cluster: Cluster) -> None:
    workflow = await create(
        cluster,
        0,
        {
            "name": "Hooked",
            "trigger": {"type": "webhook"},
            "nodes": [{"id": "echo", "type": "transform", "params": {"value": "hi"}}],
        },
    )
    path = "/api/hooks/" + workflow["webhook_url"].rsplit("/", 1)[-1]

    answers = [await cluster.apis[i % 2].post(path, json={}) for i in range(WEBHOOK_LIMIT + 2)]

    assert [answer.status_code for answer in answers[:WEBHOOK_LIMIT]] == [202] * WEBHOOK_LIMIT
    for refused in answers[WEBHOOK_LIMIT:]:
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0


async def test_killing_a_worker_mid_run_loses_nothing(
    cluster: Cluster, local_http: LocalHttpServer
) -> None:
    local_http.route("/slow", responses=[(200, {"ok": True}, {})], delay=1.5)
    workflow = await create(
        cluster,
        0,
        {
            "name": "Slow calls",
            "nodes": [
                {
                    "id": "call",
                    "type": "http.request",
                    "timeout": "4s",
                    "retry": {"initial_interval": "100ms"},
                    "params": {"url": local_http.url("/slow")},
                },
                {
                    "id": "after",
                    "type": "transform",
                    "needs": ["call"],
                    "params": {"value": "{{ nodes.call.output.body.ok }}"},
                },
            ],
        },
    )
    runs = 8
    run_ids = [await start_run(cluster, index % 2, workflow["id"]) for index in range(runs)]

    async def calls() -> int:
        return local_http.hits("/slow")

    await eventually(calls, lambda hits: hits >= runs, within=20)
    doomed = cluster.workers[0]
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()

    for run_id in run_ids:
        run = await cluster.finished(1, run_id, within=90)
        assert run["status"] == "succeeded", run
        assert {node["node_id"]: node["status"] for node in run["nodes"]} == {
            "call": "succeeded",
            "after": "succeeded",
        }
    # The calls the killed worker had in flight were made again by the other one.
    assert local_http.hits("/slow") > runs
