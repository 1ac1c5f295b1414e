"""A worker SIGKILLed mid-call: the run completes, and the retry carries the same key.

Every node call carries the idempotency key `<run's workflow id>:<node id>`. These tests
kill the worker process while a side effect is in flight, let Temporal time the attempt
out and give it to a second worker, and check what reached the wire both times:

- `http.request` sends the key as `Idempotency-Key`; a service that honours it (here a
  local ledger that behaves like a payments API) applies the effect once.
- `email.send` derives the Message-ID from the key; SMTP itself does not deduplicate, so
  what is proven is that the retry's message carries the first one's Message-ID, which
  a receiving system uses to drop the duplicate.
- Inside a `foreach`, each item's call has a key of its own (`<key>[<index>].<node id>`).

Slack takes no idempotency key, so "where the service supports keys" excludes it (see
activities/slack.py); its retry rules are covered by tests/test_connector_slack.py.
"""

import asyncio
import json
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sized
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from connectors.email import _message_id
from core.config import Settings
from tests.support.api import create_workflow, sign_up
from tests.support.fake_smtp import FakeSmtpServer
from tests.support.processes import Processes, flowpilot_env, wait_ready
from tests.support.runs import definition, eventually, start_run
from tests.support.threaded_http import ThreadedHttpServer

HELD_FOR = 3.0
"""How long the services hold their first answer: the worker is killed meanwhile."""
NODE_TIMEOUT = "4s"
"""Also the heartbeat timeout: how soon Temporal notices the killed worker."""
FAST_RETRY = {"initial_interval": "100ms", "max_attempts": 4}


# --- a key-honouring HTTP service -------------------------------------------------------


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    ready: threading.Event = field(default_factory=threading.Event)
    """Set once the answer has been given (or would have been, to a caller since killed)."""


@dataclass
class _LedgerState:
    hold: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: list[str | None] = field(default_factory=list)
    """The `Idempotency-Key` of every request received, in order."""
    entries: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, _Answer] = field(default_factory=dict)


class _LedgerHandler(BaseHTTPRequestHandler):
    """POST /charges, the way payment APIs treat `Idempotency-Key`.

    The first request with a key applies the charge and answers after `hold` seconds; a
    repeat with that key applies nothing and gets the first answer (once it exists). A
    request without a key is applied every time.
    """

    protocol_version = "HTTP/1.1"
    state: _LedgerState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        key = self.headers.get("idempotency-key")
        with self.state.lock:
            self.state.keys.append(key)
            answer = self.state.answers.get(key) if key else None
            first = answer is None
            if answer is None:
                self.state.entries.append(body)
                answer = _Answer(201, {"id": f"ch_{len(self.state.entries)}", **body})
                if key:
                    self.state.answers[key] = answer
        if first:
            time.sleep(self.state.hold)
            answer.ready.set()
        else:
            answer.ready.wait(timeout=30)
        self._reply(answer, replayed=not first)

    def _reply(self, answer: _Answer, *, replayed: bool) -> None:
        content = json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.send_header("Idempotent-Replayed", str(replayed).lower())
            self.end_headers()
            self.wfile.write(content)
        except OSError:
            pass  # the caller was killed while the answer was held


class Ledger:
    def __init__(self, hold: float) -> None:
        self.state = _LedgerState(hold)
        handler = type("Handler", (_LedgerHandler,), {"state": self.state})
        self._server = ThreadedHttpServer(handler)

    @property
    def url(self) -> str:
        return f"{self._server.base_url}/charges"

    def keys(self) -> list[str | None]:
        with self.state.lock:
            return list(self.state.keys)

    def entries(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.entries)

    def __enter__(self) -> "Ledger":
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with Ledger(hold=HELD_FOR) as running:
        yield running


# --- an SMTP server that holds its first DATA answer -------------------------------------


@dataclass
class HoldingSmtp(FakeSmtpServer):
    hold: float = 0.0
    """Seconds the first message's DATA answer is held back."""
    arrived: list[bytes] = field(default_factory=list)
    """The DATA of every message that reached the server, whatever became of its answer."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.arrived.append(envelope.content)
        if len(self.arrived) == 1:
            await asyncio.sleep(self.hold)
        return await super().handle_DATA(server, session, envelope)

    def message_ids(self) -> list[str]:
        return [
            str(message_from_bytes(data, policy=default_policy)["Message-ID"])
            for data in self.arrived
        ]


@pytest.fixture
async def holding_smtp() -> AsyncIterator[HoldingSmtp]:
    fake = HoldingSmtp(mode="plain", hold=HELD_FOR)

    def protocol() -> SMTP:
        fake.connections += 1
        return SMTP(
            fake,
            hostname="fake-smtp.test",
            auth_require_tls=False,
            authenticator=fake.authenticate,
        )

    server = await asyncio.get_running_loop().create_server(protocol, fake.host, 0)
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()


# --- Flowpilot: one API process, worker processes per test -------------------------------


@dataclass
class Stack:
    processes: Processes
    api: httpx.AsyncClient
    headers: dict[str, str]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        worker = self.processes.start(f"worker-{uuid.uuid4().hex[:6]}", "-m", "worker")
        self.workers.append(worker)
        return worker

    async def stop_workers(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.terminate()
        for worker in self.workers:
            await asyncio.to_thread(worker.wait, 20)
        self.workers.clear()

    async def start_run(self, workflow_id: str) -> str:
        answer = await self.api.post(
            f"/api/workflows/{workflow_id}/runs", json={"inputs": {}}, headers=self.headers
        )
        assert answer.status_code == 201, answer.text
        run_id: str = answer.json()["id"]
        return run_id

    async def finished(self, run_id: str) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            answer = await self.api.get(f"/api/runs/{run_id}", headers=self.headers)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        done = ("succeeded", "failed", "cancelled")
        return await eventually(read, lambda run: run["status"] in done, within=60)


@pytest.fixture(scope="module")
async def flowpilot(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The API on SQLite: nothing here depends on the database, and no other test's
    database is touched."""
    data = tmp_path_factory.mktemp("idempotent")
    address = temporal_env.client.service_client.config.target_host
    database_url = f"sqlite+aiosqlite:///{data / 'flowpilot.db'}"
    processes = Processes(flowpilot_env(address, data, database_url), data)
    api_process = processes.start("api", "-m", "cli", "api")
    base_url = f"http://127.0.0.1:{processes.env['API_PORT']}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as api:
            await wait_ready(api, api_process)
            yield Stack(processes, api, await sign_up(api))
    finally:
        processes.stop_all()


@pytest.fixture
async def stack(flowpilot: Stack) -> AsyncIterator[Stack]:
    """The module's Flowpilot; the workers a test starts are stopped after it."""
    yield flowpilot
    await flowpilot.stop_workers()


async def kill_once_in_flight(stack: Stack, arrived: Callable[[], Sized]) -> None:
    """Start a worker; once `arrived()` is not empty, SIGKILL it and start its replacement."""
    doomed = stack.start_worker()

    async def calls() -> int:
        return len(arrived())

    await eventually(calls, lambda count: count > 0, within=30)
    doomed.send_signal(signal.SIGKILL)
    await asyncio.to_thread(doomed.wait, 10)
    stack.start_worker()


def temporal_workflow_id(run: dict[str, Any]) -> str:
    """The run's Temporal workflow id, from its Temporal UI link (`…/workflows/<id>/history`)."""
    path = httpx.URL(run["temporal_url"]).path.removesuffix("/history")
    return path.split("/workflows/", 1)[1].split("/")[0]


def node(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(item for item in run["nodes"] if item["node_id"] == node_id)
    return found


async def assert_completed_on_temporal(env: WorkflowEnvironment, workflow_id: str) -> None:
    described = await env.client.get_workflow_handle(workflow_id).describe()
    assert described.status == WorkflowExecutionStatus.COMPLETED


# --- the tests ---------------------------------------------------------------------------


async def test_a_retried_http_call_carries_the_same_key_and_is_applied_once(
    stack: Stack, ledger: Ledger, temporal_env: WorkflowEnvironment
) -> None:
    workflow = await create_workflow(
        stack.api,
        stack.headers,
        {
            "name": "Charge once",
            "nodes": [
                {
                    "id": "charge",
                    "type": "http.request",
                    "timeout": NODE_TIMEOUT,
                    "retry": FAST_RETRY,
                    "params": {"method": "POST", "url": ledger.url, "json": {"amount": 4200}},
                },
                {
                    "id": "receipt",
                    "type": "transform",
                    "needs": ["charge"],
                    "params": {"value": "{{ nodes.charge.output.body.id }}"},
                },
            ],
            "output": "{{ nodes.receipt.output }}",
        },
    )
    run_id = await stack.start_run(workflow["id"])

    await kill_once_in_flight(stack, ledger.keys)
    run = await stack.finished(run_id)

    assert run["status"] == "succeeded", run
    assert node(run, "charge")["attempts"] >= 2
    keys = ledger.keys()
    assert len(keys) >= 2, keys  # the killed worker's call was really made again
    workflow_id = temporal_workflow_id(run)
    assert keys == [f"{workflow_id}:charge"] * len(keys)
    assert ledger.entries() == [{"amount": 4200}]
    assert run["output"] == "ch_1"  # the retry got the first call's answer, replayed
    await assert_completed_on_temporal(temporal_env, workflow_id)


async def test_a_retried_email_carries_the_message_id_of_the_first_delivery(
    stack: Stack, holding_smtp: HoldingSmtp, temporal_env: WorkflowEnvironment
) -> None:
    stored = await stack.api.post(
        "/api/credentials",
        json={
            "name": f"mail-{uuid.uuid4().hex[:6]}",
            "kind": "smtp",
            "data": holding_smtp.credential(),
        },
        headers=stack.headers,
    )
    assert stored.status_code == 201, stored.text
    workflow = await create_workflow(
        stack.api,
        stack.headers,
        {
            "name": "Notify once",
            "nodes": [
                {
                    "id": "notify",
                    "type": "email.send",
                    "credential": stored.json()["name"],
                    "timeout": NODE_TIMEOUT,
                    "retry": FAST_RETRY,
                    "params": {
                        "to": "ops@example.com",
                        "subject": "Invoice paid",
                        "text": "Invoice 42 was paid.",
                    },
                }
            ],
        },
    )
    run_id = await stack.start_run(workflow["id"])

    await kill_once_in_flight(stack, lambda: holding_smtp.arrived)
    run = await stack.finished(run_id)
    first_run_ids = holding_smtp.message_ids()
    other = await stack.finished(await stack.start_run(workflow["id"]))

    assert run["status"] == "succeeded", run
    assert node(run, "notify")["attempts"] >= 2
    assert len(first_run_ids) >= 2, first_run_ids  # delivered again by the second worker
    workflow_id = temporal_workflow_id(run)
    expected = _message_id("example.com", f"{workflow_id}:notify")
    assert first_run_ids == [expected] * len(first_run_ids)
    assert node(run, "notify")["output"]["message_id"] == expected
    assert other["status"] == "succeeded", other
    assert holding_smtp.message_ids()[len(first_run_ids) :] == [
        node(other, "notify")["output"]["message_id"]
    ]
    assert node(other, "notify")["output"]["message_id"] != expected
    await assert_completed_on_temporal(temporal_env, workflow_id)


async def test_each_foreach_item_carries_its_own_key_so_none_is_taken_for_a_retry(
    client: Client, settings: Settings, worker: Worker
) -> None:
    """Items in different child batches get distinct keys: a key-honouring service applies
    every item once, rather than replaying the first item's answer to the others."""
    with Ledger(hold=0) as items_ledger:
        handle = await start_run(
            client,
            settings,
            definition(
                {
                    "id": "each",
                    "type": "foreach",
                    "params": {
                        "items": [10, 20, 30, 40, 50],
                        "batch_size": 2,
                        "nodes": [
                            {
                                "id": "pay",
                                "type": "http.request",
                                "params": {
                                    "method": "POST",
                                    "url": items_ledger.url,
                                    "json": {"amount": "{{ item }}"},
                                },
                            }
                        ],
                        "output": "{{ nodes.pay.output.body.amount }}",
                    },
                }
            ),
        )
        result = await handle.result()

    assert result.status == "succeeded"
    assert result.nodes["each"].output == [10, 20, 30, 40, 50]
    assert sorted(entry["amount"] for entry in items_ledger.entries()) == [10, 20, 30, 40, 50]
    assert sorted(items_ledger.keys()) == [f"{handle.id}:each[{index}].pay" for index in range(5)]
