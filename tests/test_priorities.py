"""Run priorities: a high-priority run's nodes are picked before queued low-priority ones.

A workflow's `defaults.priority` (high, normal, low) maps to Temporal's task priority
(1, 3, 5); a run started through the API or a webhook may name another. The queueing tests
use one worker with a single activity slot on the real Temporal dev server: a first run
holds the slot while 20 low-priority runs queue behind it, then one more run is started.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from temporalio.client import Client, ScheduleActionStartWorkflow, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.support.api import POSTGRES_URL, app_client, reset_postgres, sign_up
from tests.support.local_http import LocalHttpServer
from tests.support.runs import eventually
from worker import create_worker

LOW_RUNS = 20
HOLD_SECONDS = 3.0
"""How long the first run holds the worker's only slot while the others are started."""
WORK_SECONDS = 0.1


@dataclass
class Stack:
    api: httpx.AsyncClient
    temporal: Client
    headers: dict[str, str]

    async def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        created = await self.api.post(
            "/api/workflows", json={"definition": definition}, headers=self.headers
        )
        assert created.status_code == 201, created.text
        body: dict[str, Any] = created.json()
        return body

    async def start(self, workflow: dict[str, Any], **body: Any) -> str:
        started = await self.api.post(
            f"/api/workflows/{workflow['id']}/runs", json=body, headers=self.headers
        )
        assert started.status_code == 201, started.text
        return str(started.json()["id"])

    async def hook(self, workflow: dict[str, Any], payload: dict[str, Any], query: str) -> str:
        path = urlsplit(workflow["webhook_url"]).path
        answer = await self.api.post(f"{path}?{query}", json=payload)
        assert answer.status_code == 202, answer.text
        return str(answer.json()["run_id"])

    async def run(self, run_id: str) -> dict[str, Any]:
        answer = await self.api.get(f"/api/runs/{run_id}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def temporal_run(self, run_id: str) -> WorkflowHandle[Any, Any]:
        url = (await self.run(run_id))["temporal_url"]
        return self.temporal.get_workflow_handle(url.split("/workflows/")[1].split("/")[0])

    async def temporal_priority_key(self, run_id: str) -> int:
        """The priority key Temporal holds for the run (0: none given)."""
        described = await (await self.temporal_run(run_id)).describe()
        return int(described.raw_description.workflow_execution_info.priority.priority_key)


def settings_for(temporal_env: WorkflowEnvironment, tmp_path: Path, **fields: Any) -> Settings:
    return Settings(
        database_url=POSTGRES_URL,
        data_dir=tmp_path,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        http_allowed_hosts=["127.0.0.1"],
        redis_url=None,
        **fields,
    )


@pytest.fixture
async def one_slot(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """The API and a worker that runs one activity at a time (workflow tasks are not held up)."""
    await reset_postgres(POSTGRES_URL)
    settings = settings_for(temporal_env, tmp_path, worker_max_concurrent_activities=1)
    async with app_client(settings) as api, create_worker(temporal_env.client, settings):
        yield Stack(api, temporal_env.client, await sign_up(api))


@pytest.fixture
async def no_worker(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """The API alone: runs are started on Temporal and wait there, untouched."""
    await reset_postgres(POSTGRES_URL)
    async with app_client(settings_for(temporal_env, tmp_path)) as api:
        yield Stack(api, temporal_env.client, await sign_up(api))


def queued_work(local_http: LocalHttpServer, **defaults: Any) -> dict[str, Any]:
    """One HTTP call per run, to the path the run is given; webhooks can start it too."""
    return {
        "schema": "flowpilot/v1",
        "name": "Queued work",
        "inputs": {"path": {"type": "string", "default": "/work"}},
        "trigger": {"type": "webhook"},
        "defaults": defaults,
        "nodes": [
            {
                "id": "call",
                "type": "http.request",
                "params": {"url": local_http.url("") + "{{ inputs.path }}"},
            }
        ],
    }


LastStart = Callable[[Stack, dict[str, Any]], Awaitable[str]]


async def high_through_the_api(stack: Stack, workflow: dict[str, Any]) -> str:
    return await stack.start(workflow, priority="high")


async def high_through_a_webhook(stack: Stack, workflow: dict[str, Any]) -> str:
    return await stack.hook(workflow, {"path": "/work"}, "priority=high")


async def without_a_priority(stack: Stack, workflow: dict[str, Any]) -> str:
    return await stack.start(workflow)


async def low_runs_finishing_after_the_last(
    stack: Stack, local_http: LocalHttpServer, start_last: LastStart
) -> int:
    """Hold the only slot, queue 20 runs of a low-priority workflow behind it, start one
    more with `start_last`; how many of the 20 finished after that last run."""
    local_http.route("/hold", [(200, "held")], delay=HOLD_SECONDS)
    local_http.route("/work", [(200, "done")], delay=WORK_SECONDS)
    workflow = await stack.create(queued_work(local_http, priority="low"))
    holder = await stack.start(workflow, inputs={"path": "/hold"})
    await eventually(lambda: asyncio.sleep(0, local_http.hits("/hold")), lambda hits: hits == 1)
    low = [await stack.start(workflow) for _ in range(LOW_RUNS)]
    last = await start_last(stack, workflow)
    assert local_http.requests("/hold")[0].finished is None, "the slot was free too early"

    runs = {}
    for run_id in [holder, *low, last]:
        runs[run_id] = await eventually(
            lambda run_id=run_id: stack.run(run_id),
            lambda run: run["status"] == "succeeded",
            within=60,
            interval=0.25,
        )
    assert local_http.hits("/work") == LOW_RUNS + 1
    finished = {run_id: datetime.fromisoformat(run["finished_at"]) for run_id, run in runs.items()}
    return sum(finished[run_id] > finished[last] for run_id in low)


@pytest.mark.parametrize("start_last", [high_through_the_api, high_through_a_webhook])
async def test_a_high_priority_run_finishes_before_most_queued_low_priority_runs(
    one_slot: Stack, local_http: LocalHttpServer, start_last: LastStart
) -> None:
    overtaken = await low_runs_finishing_after_the_last(one_slot, local_http, start_last)
    assert overtaken >= 15, f"the high-priority run overtook only {overtaken} of {LOW_RUNS}"


async def test_without_a_priority_the_run_started_last_finishes_last(
    one_slot: Stack, local_http: LocalHttpServer
) -> None:
    """The control: the same queue, the last run started with the workflow's own priority."""
    overtaken = await low_runs_finishing_after_the_last(one_slot, local_http, without_a_priority)
    assert overtaken <= 2, f"a run of the same priority overtook {overtaken} queued runs"


async def test_each_start_hands_its_priority_to_temporal(
    no_worker: Stack, local_http: LocalHttpServer
) -> None:
    default = await no_worker.create(queued_work(local_http))
    low = await no_worker.create(queued_work(local_http, priority="low"))
    started = {
        "default": await no_worker.start(default),
        "workflow's low": await no_worker.start(low),
        "API high": await no_worker.start(low, priority="high"),
        "API normal": await no_worker.start(low, priority="normal"),
        "webhook high": await no_worker.hook(low, {}, "priority=high"),
        "webhook, workflow's low": await no_worker.hook(low, {}, ""),
    }
    keys = {name: await no_worker.temporal_priority_key(run) for name, run in started.items()}
    assert keys == {
        "default": 3,
        "workflow's low": 5,
        "API high": 1,
        "API normal": 3,
        "webhook high": 1,
        "webhook, workflow's low": 5,
    }
    for run_id in started.values():
        await (await no_worker.temporal_run(run_id)).terminate("no worker polls this queue")


async def test_a_schedule_starts_runs_with_the_workflows_priority(no_worker: Stack) -> None:
    definition = {
        "schema": "flowpilot/v1",
        "name": "Nightly",
        "trigger": {"type": "schedule", "cron": "0 3 * * *"},
        "defaults": {"priority": "low"},
        "nodes": [{"id": "noop", "type": "transform", "params": {"value": 1}}],
    }
    workflow = await no_worker.create(definition)
    schedule = no_worker.temporal.get_schedule_handle(f"workflow-{workflow['id']}")

    async def scheduled_priority() -> int | None:
        action = (await schedule.describe()).schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        return action.priority.priority_key

    assert await scheduled_priority() == 5
    definition["defaults"] = {"priority": "high"}
    updated = await no_worker.api.put(
        f"/api/workflows/{workflow['id']}",
        json={"definition": definition},
        headers=no_worker.headers,
    )
    assert updated.status_code == 200, updated.text
    assert await scheduled_priority() == 1
    deleted = await no_worker.api.delete(
        f"/api/workflows/{workflow['id']}", headers=no_worker.headers
    )
    assert deleted.status_code == 204, deleted.text


async def test_an_unknown_priority_is_refused_where_it_is_given(
    no_worker: Stack, local_http: LocalHttpServer
) -> None:
    refused = await no_worker.api.post(
        "/api/workflows",
        json={"definition": queued_work(local_http, priority="urgent")},
        headers=no_worker.headers,
    )
    assert refused.status_code == 422, refused.text
    assert "defaults.priority" in refused.text
    workflow = await no_worker.create(queued_work(local_http))
    answer = await no_worker.api.post(
        f"/api/workflows/{workflow['id']}/runs",
        json={"priority": "urgent"},
        headers=no_worker.headers,
    )
    assert answer.status_code == 422, answer.text
    path = urlsplit(workflow["webhook_url"]).path
    answer = await no_worker.api.post(f"{path}?priority=urgent", json={})
    assert answer.status_code == 422, answer.text
    listed = await no_worker.api.get("/api/runs", headers=no_worker.headers)
    assert listed.json()["items"] == []
