"""A whole Flowpilot as it is deployed: an API process (over HTTP) and a worker process on
PostgreSQL and the test Temporal server, with a signed-in user."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from core.temporal import temporal_binary
from tests.support.api import POSTGRES_URL, sign_up
from tests.support.processes import Processes, flowpilot_env, wait_ready
from tests.support.runs import eventually

RUNNING = ("pending", "running", "waiting")


@dataclass
class Flowpilot:
    api: httpx.AsyncClient
    headers: dict[str, str]
    temporal_address: str
    processes: Processes

    async def create(self, raw: dict[str, Any]) -> str:
        created = await self.api.post(
            "/api/workflows", json={"definition": raw}, headers=self.headers
        )
        assert created.status_code == 201, created.text
        workflow_id: str = created.json()["id"]
        return workflow_id

    async def run_workflow(self, raw: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        started = await self.api.post(
            f"/api/workflows/{await self.create(raw)}/runs",
            json={"inputs": inputs},
            headers=self.headers,
        )
        assert started.status_code == 201, started.text
        return await self.finished(started.json()["id"])

    async def finished(self, run_id: str) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            answer = await self.api.get(f"/api/runs/{run_id}", headers=self.headers)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        try:
            return await eventually(read, lambda run: run["status"] not in RUNNING, within=60)
        except AssertionError:
            print(self.processes.log_of("worker"))
            raise

    async def temporal(self, *args: str) -> str:
        """The Temporal CLI's answer (JSON) about this instance's Temporal server."""
        return await temporal_cli(*args, "--address", self.temporal_address, "--output", "json")


async def temporal_cli(*args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode()


@contextlib.asynccontextmanager
async def flowpilot_stack(
    temporal_address: str, logs: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Flowpilot]:
    """API and worker processes logging to `logs/api.log` and `logs/worker.log`; `env`
    adds to or overrides their settings."""
    settings = {"API_WORKERS": "1", **(env or {})}
    processes = Processes(flowpilot_env(temporal_address, logs, POSTGRES_URL, **settings), logs)
    api_process = processes.start("api", "-m", "cli", "api")
    processes.start("worker", "-m", "worker")
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{processes.env['API_PORT']}", timeout=30)
    try:
        await wait_ready(api, api_process)
        yield Flowpilot(api, await sign_up(api), temporal_address, processes)
    finally:
        await api.aclose()
        processes.stop_all()


def temporal_id(run: dict[str, Any]) -> str:
    """The Temporal workflow id of a run, as its `temporal_url` names it."""
    found = re.search(r"/workflows/([^/]+)/", run["temporal_url"])
    assert found, run["temporal_url"]
    return found.group(1)
