"""A run survives its worker being killed with SIGKILL mid-activity."""

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.support.local_http import LocalHttpServer
from tests.support.runs import definition, eventually, start_run

ROOT = Path(__file__).resolve().parent.parent
StartWorker = Callable[[], subprocess.Popen[bytes]]


@pytest.fixture
def worker_process(
    temporal_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> Iterator[StartWorker]:
    """Starts `python -m worker` as a real process on this test's task queue."""
    started: list[subprocess.Popen[bytes]] = []
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "HTTP_ALLOWED_HOSTS": json.dumps(settings.http_allowed_hosts),
    }

    def start() -> subprocess.Popen[bytes]:
        log = (tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "worker"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


async def test_run_completes_after_worker_is_killed_and_no_finished_node_runs_twice(
    temporal_env: WorkflowEnvironment,
    settings: Settings,
    local_http: LocalHttpServer,
    worker_process: StartWorker,
) -> None:
    for path in ("/first", "/third"):
        local_http.route(path, responses=[(200, {"step": path}, {})])
    local_http.route("/second", responses=[(200, {"step": "/second"}, {})], delay=1.5)
    raw = definition(
        {"id": "first", "type": "http.request", "params": {"url": local_http.url("/first")}},
        {
            "id": "second",
            "type": "http.request",
            "needs": ["first"],
            "timeout": "3s",
            "retry": {"initial_interval": "100ms"},
            "params": {"url": local_http.url("/second")},
        },
        {
            "id": "third",
            "type": "http.request",
            "needs": ["second"],
            "params": {"url": local_http.url("/third")},
        },
        output="{{ nodes.third.output.body.step }}",
    )
    doomed = worker_process()
    handle = await start_run(temporal_env.client, settings, raw)

    async def second_hits() -> int:
        return local_http.hits("/second")

    await eventually(second_hits, lambda hits: hits == 1, within=30)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    worker_process()

    result = await handle.result()
    assert result.output == "/third"
    assert local_http.hits("/first") == 1
    assert local_http.hits("/third") == 1
    assert local_http.hits("/second") == 2, "the interrupted call is retried once"
