"""Per-connector concurrency limits hold across runs, across workers, and past a dead worker.

The endpoints are the local HTTP server, which holds each call for a while and stamps when
it arrived and when it answered, so the largest number of calls open at one instant is
measured where the service would see it. Limits are counted in a real Redis (db 3) or, on
the embedded default, in the worker.
"""

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.concurrency import check_limits, pool_of
from activities.redis_slots import KEY_PREFIX
from core.config import Settings
from tests.support.api import POSTGRES_URL, app_client, reset_postgres, sign_up
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes, flowpilot_env
from tests.support.runs import definition, eventually, max_overlap, start_run
from worker import create_worker

REDIS_URL = "redis://127.0.0.1:6379/3"
RUNS = 12
LIMIT = 3
CALL_SECONDS = 0.5
LEASE_SECONDS = 3.0
SLACK_ANSWER = {"ok": True, "channel": "C0GENERAL", "ts": "1700000000.000100", "message": {}}


@pytest.fixture
async def redis_store() -> AsyncIterator[aioredis.Redis]:
    store = aioredis.Redis.from_url(REDIS_URL)
    await store.flushdb()
    yield store
    await store.flushdb()
    await store.aclose()


def slack_announcement() -> dict[str, Any]:
    return definition(
        {
            "id": "announce",
            "type": "slack.post_message",
            "credential": "slack",
            "params": {"channel": "#general", "text": "run {{ run.id }} is done"},
        },
        name="Announce",
    )


def call(url: str, **node: Any) -> dict[str, Any]:
    return definition({"id": "call", "type": "http.request", "params": {"url": url}, **node})


async def run_all(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str
) -> list[dict[str, Any]]:
    run_ids = []
    for _ in range(RUNS):
        started = await api.post(
            f"/api/workflows/{workflow_id}/runs", json={"inputs": {}}, headers=headers
        )
        assert started.status_code == 201, started.text
        run_ids.append(started.json()["id"])

    async def run(run_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await api.get(f"/api/runs/{run_id}", headers=headers)).json()
        return body

    return [
        await eventually(
            lambda run_id=run_id: run(run_id),
            lambda body: body["status"] in ("succeeded", "failed", "cancelled"),
            within=60,
            interval=0.25,
        )
        for run_id in run_ids
    ]


@pytest.mark.parametrize("counted_in", ["redis", "worker"])
async def test_slack_calls_of_many_runs_never_exceed_the_limit(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    local_http: LocalHttpServer,
    redis_store: aioredis.Redis,
    counted_in: str,
) -> None:
    local_http.route("/api/chat.postMessage", [(200, SLACK_ANSWER)], delay=CALL_SECONDS)
    await reset_postgres(POSTGRES_URL)
    settings = Settings(
        database_url=POSTGRES_URL,
        data_dir=tmp_path,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        http_allowed_hosts=["127.0.0.1"],
        redis_url=REDIS_URL if counted_in == "redis" else None,
        rate_limit_api_per_minute=100_000,
        slack_api_url=local_http.url("/api"),
        connector_concurrency={"slack": LIMIT},
    )
    async with app_client(settings) as api, create_worker(temporal_env.client, settings):
        headers = await sign_up(api)
        stored = await api.post(
            "/api/credentials",
            json={"name": "slack", "kind": "slack", "data": {"bot_token": "xoxb-test-token"}},
            headers=headers,
        )
        assert stored.status_code == 201, stored.text
        created = await api.post(
            "/api/workflows", json={"definition": slack_announcement()}, headers=headers
        )
        assert created.status_code == 201, created.text
        runs = await run_all(api, headers, created.json()["id"])

    assert [run["status"] for run in runs] == ["succeeded"] * RUNS
    posts = local_http.requests("/api/chat.postMessage")
    assert len(posts) == RUNS
    assert max_overlap([(post.started, post.finished or post.started) for post in posts]) == LIMIT
    if counted_in == "redis":
        assert await redis_store.keys(f"{KEY_PREFIX}*") == [], "every slot was given back"


# -- workers in their own processes, sharing one Redis --------------------------------------


def worker_processes(
    temporal_env: WorkflowEnvironment, tmp_path: Path, limits: dict[str, int], **env: str
) -> Processes:
    settings = flowpilot_env(
        temporal_env.client.service_client.config.target_host,
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        REDIS_URL=REDIS_URL,
        CONNECTOR_CONCURRENCY=json.dumps(limits),
        **env,
    )
    return Processes(settings, tmp_path)


async def activity_pollers(client: Client, task_queue: str) -> set[str]:
    """The identities (`pid@host`) of the workers polling the queue for activities."""
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        )
    )
    return {poller.identity for poller in described.pollers}


async def start_workers(
    client: Client, processes: Processes, count: int
) -> dict[str, subprocess.Popen[bytes]]:
    """`count` workers, once each polls; by identity."""
    started = [processes.start(f"worker-{index}", "-m", "worker") for index in range(count)]
    queue = processes.env["TEMPORAL_TASK_QUEUE"]
    await eventually(
        lambda: activity_pollers(client, queue), lambda found: len(found) == count, within=30
    )
    return {
        identity: process
        for identity in await activity_pollers(client, queue)
        for process in started
        if identity.startswith(f"{process.pid}@")
    }


async def identities_that_ran(handles: list[WorkflowHandle[Any, Any]]) -> set[str]:
    """The workers whose activity attempts the runs' histories record."""
    found = set()
    for handle in handles:
        async for event in handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                found.add(event.activity_task_started_event_attributes.identity)
    return found


async def test_two_workers_sharing_redis_share_one_limit(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    local_http: LocalHttpServer,
    redis_store: aioredis.Redis,
) -> None:
    local_http.route("/partner", [(200, {"ok": True})], delay=CALL_SECONDS)
    processes = worker_processes(temporal_env, tmp_path, {"http.request": 2})
    client = temporal_env.client
    try:
        workers = await start_workers(client, processes, 2)
        queue = Settings(temporal_task_queue=processes.env["TEMPORAL_TASK_QUEUE"])
        handles = [
            await start_run(client, queue, call(local_http.url("/partner"))) for _ in range(RUNS)
        ]
        states = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)
    finally:
        processes.stop_all()

    assert [state.status for state in states] == ["succeeded"] * RUNS
    calls = local_http.requests("/partner")
    assert max_overlap([(call.started, call.finished or call.started) for call in calls]) == 2
    assert await identities_that_ran(handles) == set(workers), "both workers made calls"


async def test_a_killed_workers_slot_is_free_again_when_its_lease_runs_out(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    local_http: LocalHttpServer,
    redis_store: aioredis.Redis,
) -> None:
    local_http.route("/hang", [(200, "too late")], delay=30)
    local_http.route("/quick", [(200, "ok")])
    processes = worker_processes(
        temporal_env,
        tmp_path,
        {"http.request": 1},
        CONNECTOR_SLOT_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    client = temporal_env.client
    queue = Settings(temporal_task_queue=processes.env["TEMPORAL_TASK_QUEUE"])
    try:
        workers = await start_workers(client, processes, 2)
        hanging = await start_run(
            client,
            queue,
            call(local_http.url("/hang"), timeout="10s", retry={"max_attempts": 1}),
        )

        async def holder() -> str:
            pending = (await hanging.describe()).raw_description.pending_activities
            return pending[0].last_worker_identity if pending else ""

        doomed = workers[await eventually(holder, bool)]
        await eventually(lambda: asyncio.sleep(0, local_http.hits("/hang")), lambda n: n == 1)
        os.kill(doomed.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        doomed.wait()

        assert await redis_store.zcard(f"{KEY_PREFIX}http.request") == 1, "the hold outlives it"
        quick = await start_run(client, queue, call(local_http.url("/quick")))
        state = await asyncio.wait_for(quick.result(), LEASE_SECONDS + 15)
    finally:
        processes.stop_all()

    assert state.status == "succeeded"
    waited = local_http.requests("/quick")[0].started - killed_at
    # The dead worker renewed its lease at most a third of a lease before it died.
    assert LEASE_SECONDS * 2 / 3 - 0.5 <= waited <= LEASE_SECONDS + 3, waited


# -- configuration --------------------------------------------------------------------------


def test_a_node_types_own_limit_wins_over_its_familys() -> None:
    limits = {"notion": 3, "notion.create_page": 1, "http.request": 2}
    assert pool_of(limits, "notion.create_page") == "notion.create_page"
    assert pool_of(limits, "notion.query_database") == "notion"
    assert pool_of(limits, "http.request") == "http.request"
    assert pool_of(limits, "slack.post_message") is None


def test_a_limit_naming_no_node_type_is_refused_at_worker_start() -> None:
    names = ["slack.post_message", "notion.create_page", "flowpilot.record_progress"]
    check_limits({"slack": 5, "notion.create_page": 1}, names)
    with pytest.raises(ValueError, match="'slak'"):
        check_limits({"slak": 5}, names)
    with pytest.raises(ValueError, match="'flowpilot'"):
        check_limits({"flowpilot": 1}, names)


def test_the_limits_are_read_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_CONCURRENCY", '{"slack.post_message": 5, "notion": 3}')
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.connector_concurrency == {"slack.post_message": 5, "notion": 3}
    monkeypatch.setenv("CONNECTOR_CONCURRENCY", '{"slack": 0}')
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Settings(_env_file=None)  # type: ignore[call-arg]
