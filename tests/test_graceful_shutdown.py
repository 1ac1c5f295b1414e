"""SIGTERM is a clean stop: the worker drains its in-flight activities, the API its requests."""

import asyncio
import contextlib
import json
import secrets
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.api import create_workflow, sign_up
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes, free_port, wait_ready
from tests.support.runs import eventually


@pytest.fixture
async def processes(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Processes]:
    started = Processes(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
            "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": f"shutdown-{uuid.uuid4().hex[:8]}",
            "FLOWPILOT_SECRET_KEY": secrets.token_urlsafe(32),
            "DATA_DIR": str(tmp_path),
            "FRONTEND_DIR": str(tmp_path / "no-frontend"),
            "HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
            "WORKER_METRICS_PORT": "0",
            "API_HOST": "127.0.0.1",
            "API_PORT": str(free_port()),
        },
        tmp_path,
    )
    yield started
    started.stop_all()


@contextlib.asynccontextmanager
async def started_api(
    processes: Processes,
) -> AsyncIterator[tuple[httpx.AsyncClient, subprocess.Popen[bytes]]]:
    process = processes.start("api", "-m", "cli", "api")
    base_url = f"http://127.0.0.1:{processes.env['API_PORT']}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await wait_ready(client, process)
        yield client, process


async def test_a_stopped_worker_finishes_its_activity_before_it_exits(
    processes: Processes, local_http: LocalHttpServer
) -> None:
    local_http.route("/slow", responses=[(200, {"done": True}, {})], delay=2.0)
    async with started_api(processes) as (api, _):
        headers = await sign_up(api)
        workflow = await create_workflow(
            api,
            headers,
            {
                "name": "One slow call",
                "nodes": [
                    {
                        "id": "call",
                        "type": "http.request",
                        "params": {"url": local_http.url("/slow")},
                    },
                    {
                        "id": "after",
                        "type": "transform",
                        "needs": ["call"],
                        "params": {"value": "{{ nodes.call.output.body.done }}"},
                    },
                ],
            },
        )
        worker = processes.start("worker", "-m", "worker", WORKER_SHUTDOWN_GRACE_SECONDS="10")
        run = await api.post(
            f"/api/workflows/{workflow['id']}/runs", json={"inputs": {}}, headers=headers
        )
        run_id = run.json()["id"]

        async def calls() -> int:
            return local_http.hits("/slow")

        await eventually(calls, lambda hits: hits == 1, within=20)
        worker.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        await asyncio.to_thread(worker.wait, 15)
        drained_for = time.monotonic() - stopped_at
        assert worker.returncode == 0, processes.log_of("worker")
        assert 1.0 < drained_for < 10, drained_for  # it waited for the call, not the grace

        processes.start("worker-2", "-m", "worker")  # carries the run on from there

        async def read() -> dict[str, Any]:
            body: dict[str, Any] = (await api.get(f"/api/runs/{run_id}", headers=headers)).json()
            return body

        finished = await eventually(read, lambda r: r["status"] == "succeeded", within=30)
        call = next(node for node in finished["nodes"] if node["node_id"] == "call")
        assert call["attempts"] == 1  # finished during the drain, not cut short and retried
        assert local_http.hits("/slow") == 1
        after = next(node for node in finished["nodes"] if node["node_id"] == "after")
        assert after["output"] is True


async def test_a_stopped_api_answers_the_requests_it_has_in_flight(processes: Processes) -> None:
    processes.start("worker", "-m", "worker")
    async with started_api(processes) as (api, api_process):
        headers = await sign_up(api)
        workflow = await create_workflow(
            api,
            headers,
            {
                "name": "Answers after a pause",
                "trigger": {"type": "webhook", "respond": "output", "timeout": "20s"},
                "nodes": [
                    {"id": "pause", "type": "delay", "params": {"duration": "2s"}},
                    {
                        "id": "reply",
                        "type": "transform",
                        "needs": ["pause"],
                        "params": {"value": "done"},
                    },
                ],
                "output": "{{ nodes.reply.output }}",
            },
        )
        hook = "/api/hooks/" + workflow["webhook_url"].rsplit("/", 1)[-1]

        in_flight = asyncio.create_task(api.post(hook, json={}))
        await asyncio.sleep(0.5)
        api_process.send_signal(signal.SIGTERM)
        answer = await in_flight

        assert answer.status_code == 200, answer.text
        assert answer.json()["output"] == "done"
        await asyncio.to_thread(api_process.wait, 15)
        # uvicorn ends by re-raising the SIGTERM it handled, once it has shut down cleanly.
        assert api_process.returncode in (0, -signal.SIGTERM), processes.log_of("api")
        assert "Finished server process" in processes.log_of("api")
        with pytest.raises(httpx.TransportError):
            await api.get("/healthz")  # and it took no new connection after SIGTERM
