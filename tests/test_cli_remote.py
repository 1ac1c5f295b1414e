"""`flowpilot workflows …` and `flowpilot runs …` against a real API over HTTP.

The API runs as its own process (`python -m cli api`) on a free port, on PostgreSQL and
Redis, wired to the test Temporal server with a worker recording into the same database;
the CLI runs as a process too, configured only by FLOWPILOT_API_URL and FLOWPILOT_API_KEY.
"""

import asyncio
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from temporalio.testing import WorkflowEnvironment

from api.schemas import WorkflowPublic
from api.workflow_files import (
    DefinitionFile,
    NameClash,
    differences,
    dump,
    export_files,
    plan_import,
    slug,
)
from core.config import Settings
from tests.support.api import POSTGRES_URL, create_workflow, reset_postgres, simple_definition
from tests.support.local_http import LocalHttpServer
from tests.support.processes import ROOT, Processes, free_port, wait_ready
from worker import create_worker

REDIS_URL = "redis://127.0.0.1:6379/14"
PASSWORD = "correct horse battery"


@dataclass
class Server:
    http: httpx.AsyncClient
    url: str


@dataclass
class Account:
    """A user of the server: a login token for the test's own calls, and an API key."""

    server: Server
    headers: dict[str, str]
    key: str

    async def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        return await create_workflow(self.server.http, self.headers, definition)

    async def workflows(self) -> dict[str, dict[str, Any]]:
        """The account's workflows by name."""
        answer = await self.server.http.get("/api/workflows", headers=self.headers)
        assert answer.status_code == 200, answer.text
        return {item["name"]: item for item in answer.json()["items"]}

    async def versions(self, workflow_id: str) -> list[int]:
        answer = await self.server.http.get(
            f"/api/workflows/{workflow_id}/versions", headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        return [item["version"] for item in answer.json()]

    async def flowpilot(
        self, *args: str, key: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`flowpilot ARGS` with this account's key (or `key`) in the environment."""
        result = await flowpilot(
            *args, env={"FLOWPILOT_API_URL": self.server.url, "FLOWPILOT_API_KEY": key or self.key}
        )
        for stream in (result.stdout, result.stderr):
            assert self.key not in stream, "the API key was printed"
            assert "Traceback" not in stream, stream
        return result


async def flowpilot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python -m cli …` without blocking the event loop the in-process worker needs."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("FLOWPILOT_API_")
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env={**environment, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture(scope="module")
async def server(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    await reset_postgres(POSTGRES_URL)
    store = aioredis.Redis.from_url(REDIS_URL)
    await store.flushdb()
    await store.aclose()
    data = tmp_path_factory.mktemp("cli-remote")
    secret = secrets.token_urlsafe(32)
    queue = f"cli-remote-{uuid.uuid4().hex[:8]}"
    address = temporal_env.client.service_client.config.target_host
    port = free_port()
    processes = Processes(
        {
            "DATABASE_URL": POSTGRES_URL,
            "REDIS_URL": REDIS_URL,
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": queue,
            "FLOWPILOT_SECRET_KEY": secret,
            "DATA_DIR": str(data),
            "FRONTEND_DIR": str(data / "no-frontend"),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(port),
            "RATE_LIMIT_LOGIN_PER_MINUTE": "1000",
        },
        data,
    )
    worker_settings = Settings(
        database_url=POSTGRES_URL,
        data_dir=data,
        flowpilot_secret_key=secret,
        temporal_address=address,
        temporal_task_queue=queue,
        http_allowed_hosts=["127.0.0.1"],
        worker_metrics_port=0,
    )
    url = f"http://127.0.0.1:{port}"
    api_process = processes.start("api", "-m", "cli", "api")
    try:
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            create_worker(temporal_env.client, worker_settings),
        ):
            await wait_ready(http, api_process)
            yield Server(http, url)
    finally:
        processes.stop_all()


@pytest.fixture
async def account(server: Server) -> Account:
    """A new user on the server (so each test sees only its own workflows), with an API key."""
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    assert (await server.http.post("/api/auth/register", json=credentials)).status_code == 201
    login = await server.http.post("/api/auth/login", json=credentials)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    created = await server.http.post("/api/api-keys", json={"name": "cli"}, headers=headers)
    assert created.status_code == 201, created.text
    return Account(server, headers, created.json()["key"])


def positioned(name: str) -> dict[str, Any]:
    """A definition as the editor saves it: nodes with positions, a description."""
    definition = simple_definition(name, description=f"{name}, for the CLI tests")
    definition["nodes"][0]["position"] = {"x": 120, "y": 48}
    return definition


# -- workflows: list, export, import -------------------------------------------------


async def test_list_shows_the_workflows_and_json_gives_them_whole(account: Account) -> None:
    await account.create(positioned("Greeting"))
    await account.create(positioned("Daily report"))

    listed = await account.flowpilot("workflows", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["ID", "NAME", "VERSION", "TRIGGER", "STATE", "UPDATED"]
    assert [row.split("  ")[1].strip() for row in rows] == ["Daily report", "Greeting"]
    assert all(" v1 " in row and "manual" in row and "active" in row for row in rows)

    as_json = await account.flowpilot("workflows", "list", "--json")
    assert as_json.returncode == 0, as_json.stderr
    items = json.loads(as_json.stdout)
    assert [item["name"] for item in items] == ["Daily report", "Greeting"]
    assert items[1]["definition"] == positioned("Greeting")


async def test_export_writes_one_deterministic_file_per_workflow(
    account: Account, tmp_path: Path
) -> None:
    greeting = await account.create(positioned("Greeting"))
    report = await account.create(positioned("Daily report"))
    folder = tmp_path / "workflows"

    exported = await account.flowpilot("workflows", "export", str(folder))
    assert exported.returncode == 0, exported.stderr
    assert sorted(path.name for path in folder.iterdir()) == ["daily-report.json", "greeting.json"]
    for name, workflow in (("greeting.json", greeting), ("daily-report.json", report)):
        text = (folder / name).read_text(encoding="utf-8")
        assert text == json.dumps(workflow["definition"], indent=2, ensure_ascii=False) + "\n"
        assert json.loads(text)["nodes"][0]["position"] == {"x": 120, "y": 48}
    assert "2 workflow(s)" in exported.stdout

    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    again = await account.flowpilot("workflows", "export", str(folder))
    assert again.returncode == 0, again.stderr
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert again.stdout.count("unchanged") == 2


async def test_import_creates_updates_and_leaves_equal_ones_alone(
    account: Account, tmp_path: Path
) -> None:
    greeting = await account.create(positioned("Greeting"))
    report = await account.create(positioned("Daily report"))
    folder = tmp_path / "workflows"
    assert (await account.flowpilot("workflows", "export", str(folder))).returncode == 0
    edited = json.loads((folder / "greeting.json").read_text())
    edited["nodes"][0]["params"]["value"] = "hello {{ inputs.who }}"
    (folder / "greeting.json").write_text(dump(edited))
    (folder / "weekly-digest.json").write_text(dump(positioned("Weekly digest")))

    planned = await account.flowpilot("workflows", "import", str(folder), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    plan = {line.split()[1]: line.split()[0] for line in planned.stdout.splitlines()[1:4]}
    assert plan == {
        "daily-report.json": "unchanged",
        "greeting.json": "update",
        "weekly-digest.json": "create",
    }
    assert "node greet" in planned.stdout and "v1 → v2" in planned.stdout
    assert "1 to create, 1 to update, 1 unchanged" in planned.stdout
    assert "dry run: nothing changed" in planned.stdout
    assert set(await account.workflows()) == {"Greeting", "Daily report"}
    assert await account.versions(greeting["id"]) == [1]

    applied = await account.flowpilot("workflows", "import", str(folder))
    assert applied.returncode == 0, applied.stderr
    workflows = await account.workflows()
    assert set(workflows) == {"Greeting", "Daily report", "Weekly digest"}
    assert await account.versions(greeting["id"]) == [2, 1]
    assert workflows["Greeting"]["definition"] == edited
    assert await account.versions(report["id"]) == [1]
    assert workflows["Weekly digest"]["definition"] == positioned("Weekly digest")

    settled = await account.flowpilot("workflows", "import", str(folder), "--json")
    assert settled.returncode == 0, settled.stderr
    answer = json.loads(settled.stdout)
    assert answer["applied"] is True
    assert {item["action"] for item in answer["plan"]} == {"unchanged"}
    assert await account.versions(greeting["id"]) == [2, 1]


async def test_an_invalid_file_fails_the_import_and_nothing_is_applied(
    account: Account, tmp_path: Path
) -> None:
    greeting = await account.create(positioned("Greeting"))
    folder = tmp_path / "workflows"
    folder.mkdir()
    changed = positioned("Greeting")
    changed["description"] = "changed"
    (folder / "greeting.json").write_text(dump(changed))
    (folder / "new.json").write_text(dump(positioned("New one")))
    broken = {
        "schema": "flowpilot/v1",
        "name": "Broken",
        "nodes": [
            {"id": "a", "type": "transform", "params": {"value": 1}, "needs": ["ghost"]},
            {"id": "b", "type": "teleport"},
        ],
    }
    (folder / "broken.json").write_text(dump(broken))
    (folder / "garbled.json").write_text("{not json")

    result = await account.flowpilot("workflows", "import", str(folder))
    assert result.returncode == 1
    assert "broken.json: 2 problem(s)" in result.stderr
    assert "node 'a', field 'needs'" in result.stderr and "ghost" in result.stderr
    assert "node 'b', field 'type'" in result.stderr
    assert "garbled.json: 1 problem(s)" in result.stderr
    assert "2 invalid file(s); nothing changed" in result.stderr
    assert set(await account.workflows()) == {"Greeting"}
    assert await account.versions(greeting["id"]) == [1]

    as_json = await account.flowpilot("workflows", "import", str(folder), "--json")
    assert as_json.returncode == 1
    invalid = json.loads(as_json.stdout)["invalid"]
    assert [item["file"] for item in invalid] == ["broken.json", "garbled.json"]
    assert {"node": "b", "field": "type"}.items() <= next(
        error for error in invalid[0]["errors"] if error["node"] == "b"
    ).items()


async def test_import_refuses_a_name_in_two_files(account: Account, tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "one.json").write_text(dump(positioned("Same")))
    (folder / "two.json").write_text(dump(positioned("Same")))

    result = await account.flowpilot("workflows", "import", str(folder))
    assert result.returncode == 1
    assert "'Same' is the name in 2 files: one.json, two.json" in result.stderr
    assert await account.workflows() == {}


async def test_import_and_export_refuse_a_name_two_workflows_share(
    account: Account, tmp_path: Path
) -> None:
    first = await account.create(positioned("Twin"))
    second = await account.create(positioned("Twin"))
    folder = tmp_path / "workflows"

    exported = await account.flowpilot("workflows", "export", str(folder))
    assert exported.returncode == 1
    assert "twin.json" in exported.stderr
    assert first["id"] in exported.stderr and second["id"] in exported.stderr
    assert not folder.exists()

    folder.mkdir()
    (folder / "twin.json").write_text(dump(positioned("Twin")))
    imported = await account.flowpilot("workflows", "import", str(folder))
    assert imported.returncode == 1
    assert "'Twin' names 2 workflows on the server" in imported.stderr
    assert await account.versions(first["id"]) == [1]


# -- runs: start, list, logs ---------------------------------------------------------


def chain(name: str) -> dict[str, Any]:
    """said → nap (a short durable timer) → answer, so a follower sees it run.

    `said` and `nap` start at the same workflow time; their ids sort the other way round, so
    only the DAG puts them in order."""
    return {
        "schema": "flowpilot/v1",
        "name": name,
        "inputs": {"who": {"type": "string"}, "times": {"type": "integer", "default": 1}},
        "nodes": [
            {"id": "said", "type": "transform", "params": {"value": "hi {{ inputs.who }}"}},
            {"id": "nap", "type": "delay", "needs": ["said"], "params": {"duration": "1s"}},
            {
                "id": "answer",
                "type": "transform",
                "needs": ["nap"],
                "params": {"value": {"said": "{{ nodes.said.output }}", "n": "{{ inputs.times }}"}},
            },
        ],
        "output": "{{ nodes.answer.output }}",
    }


def node_rows(stdout: str) -> list[list[str]]:
    """The rows of the node table `runs logs` printed (without their output/error lines)."""
    lines = stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("NODE "))
    rows = []
    for line in lines[start + 1 :]:
        if not line:
            return rows
        if not line.startswith(" "):
            rows.append(line.split())
    return rows


def node_lines(stdout: str) -> list[list[str]]:
    """The node lines a follower printed: `[node, status]` each."""
    return [line.split()[:2] for line in stdout.splitlines() if line.startswith("  ")]


async def test_runs_start_wait_follows_the_run_and_prints_its_output(account: Account) -> None:
    workflow = await account.create(chain("Chain"))

    result = await account.flowpilot(
        "runs", "start", "Chain", "--input", "who=Ada", "-i", "times=3", "--wait"
    )
    assert result.returncode == 0, result.stderr
    assert "started: http://localhost:8233/namespaces/default/workflows/" in result.stdout
    assert ["answer", "succeeded"] in node_lines(result.stdout)
    output = json.loads(result.stdout[result.stdout.index("output:") + len("output:") :])
    assert output == {"said": "hi Ada", "n": 3}

    listed = await account.flowpilot("runs", "list", "--workflow", "Chain", "--json")
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["workflow_id"] == workflow["id"] and run["status"] == "succeeded"
    assert run["inputs"] == {"who": "Ada", "times": 3}
    table = await account.flowpilot("runs", "list", "--status", "succeeded")
    assert run["id"] in table.stdout and "Chain" in table.stdout
    assert (await account.flowpilot("runs", "list", "--status", "failed")).stdout.count("\n") == 1


async def test_runs_logs_follow_prints_nodes_in_order_until_the_run_succeeds(
    account: Account,
) -> None:
    await account.create(chain("Chain"))
    started = await account.flowpilot("runs", "start", "Chain", "-i", "who=Bo", "--json")
    assert started.returncode == 0, started.stderr
    run_id = json.loads(started.stdout)["id"]

    followed = await account.flowpilot("runs", "logs", run_id, "--follow")
    assert followed.returncode == 0, followed.stderr
    finished = [node for node, status in node_lines(followed.stdout) if status == "succeeded"]
    assert finished == ["said", "nap", "answer"]
    assert 'said                     succeeded  attempt 1 → "hi Bo"' in followed.stdout
    assert "run succeeded" in followed.stdout

    logs = await account.flowpilot("runs", "logs", run_id)
    assert logs.returncode == 0, logs.stderr
    assert f"run {run_id}: succeeded" in logs.stdout
    assert [row[:4] for row in node_rows(logs.stdout)] == [
        ["said", "transform", "succeeded", "1"],
        ["nap", "delay", "succeeded", "1"],
        ["answer", "transform", "succeeded", "1"],
    ]
    assert 'output: "hi Bo"' in logs.stdout

    events = await account.flowpilot("runs", "logs", run_id, "--follow", "--json")
    assert events.returncode == 0, events.stderr
    lines = [json.loads(line) for line in events.stdout.splitlines()]
    nodes = {line["data"]["node_id"]: line["data"] for line in lines if line["event"] == "node"}
    assert nodes["answer"]["output"] == {"said": "hi Bo", "n": 1}
    assert lines[-1] == {
        "event": "run",
        "data": {"id": run_id, "status": "succeeded", "error": None},
    }


async def test_runs_logs_exits_non_zero_for_a_failed_run(
    account: Account, local_http: LocalHttpServer
) -> None:
    local_http.route("/missing", responses=[(404, {"error": "not found"}, {})])
    failing = {
        "schema": "flowpilot/v1",
        "name": "Fails",
        "nodes": [
            {"id": "prepare", "type": "transform", "params": {"value": 1}},
            {
                "id": "fetch",
                "type": "http.request",
                "needs": ["prepare"],
                "params": {"url": local_http.url("/missing")},
            },
        ],
    }
    await account.create(failing)

    waited = await account.flowpilot("runs", "start", "Fails", "--wait")
    assert waited.returncode == 1
    assert ["fetch", "failed"] in node_lines(waited.stdout)
    assert "run failed" in waited.stderr and "404" in waited.stderr

    [run] = json.loads((await account.flowpilot("runs", "list", "--json")).stdout)
    followed = await account.flowpilot("runs", "logs", run["id"], "--follow")
    assert followed.returncode == 1
    assert sorted(node_lines(followed.stdout)) == [["fetch", "failed"], ["prepare", "succeeded"]]
    assert "run failed" in followed.stderr

    logs = await account.flowpilot("runs", "logs", run["id"])
    assert logs.returncode == 1
    assert [row[:3] for row in node_rows(logs.stdout)] == [
        ["prepare", "transform", "succeeded"],
        ["fetch", "http.request", "failed"],
    ]
    assert "    error: " in logs.stdout and "404" in logs.stdout


# -- talking to the server -----------------------------------------------------------


async def test_a_refused_key_exits_2_with_a_clear_message(account: Account) -> None:
    wrong = "fp_" + secrets.token_urlsafe(24)
    result = await account.flowpilot("workflows", "list", key=wrong)
    assert result.returncode == 2
    assert result.stderr.startswith("error: the API key was refused by ")
    assert wrong not in result.stdout + result.stderr and result.stdout == ""


async def test_an_unreachable_server_or_a_missing_key_exits_2(tmp_path: Path) -> None:
    port = free_port()
    unreachable = await flowpilot(
        "runs",
        "list",
        env={"FLOWPILOT_API_URL": f"http://127.0.0.1:{port}", "FLOWPILOT_API_KEY": "fp_x"},
    )
    assert unreachable.returncode == 2
    assert (
        unreachable.stderr == f"error: cannot reach http://127.0.0.1:{port} (connection refused)\n"
    )

    keyless = await flowpilot("workflows", "export", str(tmp_path), env={})
    assert keyless.returncode == 2
    assert "FLOWPILOT_API_KEY" in keyless.stderr and "Traceback" not in keyless.stderr

    pasted = "fp_secret part\n"
    malformed = await flowpilot("runs", "list", "--api-key", pasted, env={})
    assert malformed.returncode == 2
    assert (
        malformed.stderr
        == "error: the API key is malformed (spaces or characters a key never has)\n"
    )


async def test_unknown_workflow_and_run_are_refused_with_the_api_detail(account: Account) -> None:
    missing = await account.flowpilot("runs", "start", "Nope")
    assert missing.returncode == 1
    assert missing.stderr == "error: no workflow named 'Nope'\n"
    run = await account.flowpilot("runs", "logs", str(uuid.uuid4()))
    assert run.returncode == 1
    assert "HTTP 404: run not found" in run.stderr


def test_the_client_module_imports_none_of_the_web_app() -> None:
    probe = "import sys, api.remote, api.workflow_files; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    for module in ("fastapi", "sqlalchemy", "sqlmodel", "temporalio", "api.main", "core.db"):
        assert f"'{module}'" not in loaded


# -- the folder format, without a server ---------------------------------------------


def test_slugs_are_readable_file_names() -> None:
    assert slug("Weekday issue digest") == "weekday-issue-digest"
    assert slug("  Café: résumé / v2 ") == "cafe-resume-v2"
    assert slug("日報 digest") == "日報-digest"
    assert slug("***") == "workflow"


def published(name: str, definition: dict[str, Any]) -> WorkflowPublic:
    now = "2024-01-01T00:00:00Z"
    return WorkflowPublic.model_validate(
        {
            "id": uuid.uuid4(),
            "name": name,
            "description": "",
            "version": 1,
            "definition": definition,
            "trigger": {"type": "manual"},
            "webhook_url": None,
            "paused": False,
            "owner_id": uuid.uuid4(),
            "created_at": now,
            "updated_at": now,
        }
    )


def test_export_refuses_names_that_share_a_file_name() -> None:
    with pytest.raises(NameClash) as clash:
        export_files([published("Daily report", {}), published("daily-report", {})])
    assert clash.value.clashes[0].startswith("daily-report.json: 'Daily report' (")


def test_the_plan_says_what_changed_node_by_node() -> None:
    old = chain("Chain")
    new = json.loads(json.dumps(old))
    new["description"] = "now described"
    new["nodes"][2]["params"]["value"]["n"] = 2
    new["nodes"].append({"id": "extra", "type": "transform", "params": {"value": 1}})
    del new["nodes"][1]
    new["nodes"][1]["needs"] = ["said"]
    assert differences(old, new) == ["description", "-node nap", "+node extra", "node answer"]

    files = [DefinitionFile(path=Path("chain.json"), definition=new)]
    [change] = plan_import(files, [published("Chain", old)])
    assert change.action == "update"
    assert change.changes == ["description", "-node nap", "+node extra", "node answer"]
