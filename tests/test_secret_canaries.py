"""Planted canary secrets, one in every kind of credential a run can use, reach their
services and nowhere else: not the API's answers (runs, node outputs and errors, the event
stream, credentials, credential tests, the audit log), not the logs of the API and the
worker (JSON, at DEBUG), not Temporal's history (without payload encryption), not any
database row but the credential's own ciphertext. Two of the services answer with the
secret they were sent, as echo endpoints and chatty error pages do."""

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from core.redaction import REDACTED
from tests.support.api import POSTGRES_URL, reset_postgres
from tests.support.canary import readable
from tests.support.fake_notion import FakeNotion
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import FakeSlack
from tests.support.fake_smtp import USERNAME, FakeSmtpServer
from tests.support.local_http import LocalHttpServer
from tests.support.stack import Flowpilot, flowpilot_stack, temporal_id


def planted(kind: str) -> str:
    return f"canary-{kind}-{uuid.uuid4().hex}"


class Canaries:
    def __init__(self) -> None:
        self.bearer = planted("bearer")
        self.basic = planted("basic")
        self.api_key = planted("apikey")
        self.smtp = planted("smtp")
        self.openai = f"sk-{planted('openai')}"
        self.slack = f"xoxb-{planted('slack')}"
        self.notion = planted("notion")

    @property
    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"ops:{self.basic}".encode()).decode()

    def all(self) -> list[str]:
        values = [self.bearer, self.basic, self.api_key, self.smtp, self.openai, self.slack]
        return [*values, self.notion, self.basic_header.removeprefix("Basic ")]


@pytest.fixture
async def stack(
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    fake_notion: FakeNotion,
) -> AsyncIterator[Flowpilot]:
    await reset_postgres(POSTGRES_URL)
    env = {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "PAYLOAD_ENCRYPTION": "false",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "SLACK_API_URL": fake_slack.api_url,
        "NOTION_API_URL": fake_notion.base_url,
    }
    address = temporal_env.client.service_client.config.target_host
    async with flowpilot_stack(address, tmp_path, env) as running:
        yield running


def echoing_services(local_http: LocalHttpServer, canaries: Canaries) -> None:
    """What a service that quotes its caller answers (the request as it arrived)."""
    local_http.route("/echo", [(200, {"headers": {"authorization": f"Bearer {canaries.bearer}"}})])
    local_http.route("/whoami", [(200, f"you sent {canaries.basic_header}")])
    local_http.route("/refuse", [(401, f"invalid key {canaries.api_key}")])


def definition(local_http: LocalHttpServer, tickets: str) -> dict[str, Any]:
    return {
        "name": "Every credential",
        "nodes": [
            {
                "id": "echo",
                "type": "http.request",
                "credential": "bearer",
                "params": {"url": local_http.url("/echo")},
            },
            {
                "id": "whoami",
                "type": "http.request",
                "credential": "basic",
                "params": {"url": local_http.url("/whoami")},
            },
            {
                "id": "refused",
                "type": "http.request",
                "credential": "key",
                "on_error": "continue",
                "retry": {"max_attempts": 1},
                "params": {"url": local_http.url("/refuse")},
            },
            {
                "id": "mail",
                "type": "email.send",
                "credential": "mail",
                "params": {"to": "ops@example.com", "subject": "Hi", "text": "Hello"},
            },
            {
                "id": "ask",
                "type": "llm.chat",
                "credential": "openai",
                "params": {"prompt": "Say hi"},
            },
            {
                "id": "post",
                "type": "slack.post_message",
                "credential": "slack",
                "params": {"channel": "#general", "text": "{{ nodes.ask.output.text }}"},
                "needs": ["ask"],
            },
            {
                "id": "page",
                "type": "notion.create_page",
                "credential": "notion",
                "params": {"database_id": tickets, "title": "Canary"},
            },
        ],
        "output": {"echo": "{{ nodes.echo.output.body }}", "who": "{{ nodes.whoami.output }}"},
    }


async def store_credentials(
    stack: Flowpilot, canaries: Canaries, fake_smtp: FakeSmtpServer
) -> list[str]:
    stored = {
        "bearer": ("bearer", {"token": canaries.bearer}),
        "basic": ("basic", {"username": "ops", "password": canaries.basic}),
        "key": ("api_key_header", {"header": "X-Api-Key", "value": canaries.api_key}),
        "mail": ("smtp", fake_smtp.credential(password=canaries.smtp)),
        "openai": ("openai", {"api_key": canaries.openai}),
        "slack": ("slack", {"bot_token": canaries.slack}),
        "notion": ("notion", {"token": canaries.notion}),
    }
    ids = []
    for name, (kind, data) in stored.items():
        answer = await stack.api.post(
            "/api/credentials",
            json={"name": name, "kind": kind, "data": data},
            headers=stack.headers,
        )
        assert answer.status_code == 201, answer.text
        assert not any(canary in answer.text for canary in canaries.all())
        ids.append(answer.json()["id"])
    return ids


async def everything_the_api_shows(
    stack: Flowpilot, run_id: str, workflow_id: str, credential_ids: list[str]
) -> dict[str, str]:
    """What the API answers about the run, its workflow and credentials, by request."""
    api, headers = stack.api, stack.headers
    answers = [
        await api.get(f"/api/runs/{run_id}", headers=headers),
        await api.get("/api/runs", headers=headers),
        await api.get(f"/api/runs/{run_id}/events", headers=headers),
        await api.get(f"/api/workflows/{workflow_id}", headers=headers),
        await api.get("/api/credentials", headers=headers),
        await api.get("/api/audit-logs", params={"limit": 200}, headers=headers),
    ]
    for credential_id in credential_ids:
        answers.append(await api.post(f"/api/credentials/{credential_id}/test", headers=headers))
    for answer in answers:
        assert answer.status_code == 200, (answer.request.url, answer.text)
    return {f"{answer.request.method} {answer.request.url.path}": answer.text for answer in answers}


async def every_row(database_url: str) -> list[str]:
    """Every row of every table as JSON, but the credentials' ciphertext."""
    parsed = make_url(database_url)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        tables = await connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        rows = []
        for table in tables:
            name = table["table_name"]
            for row in await connection.fetch(f'SELECT row_to_json(t) AS row FROM "{name}" t'):
                data = json.loads(row["row"])
                data.pop("ciphertext", None)
                rows.append(json.dumps(data))
        return rows
    finally:
        await connection.close()


async def test_planted_secrets_reach_their_services_and_nowhere_else(
    stack: Flowpilot,
    local_http: LocalHttpServer,
    fake_smtp: FakeSmtpServer,
    fake_openai: FakeOpenAI,
    fake_slack: FakeSlack,
    fake_notion: FakeNotion,
) -> None:
    canaries = Canaries()
    fake_smtp.users[USERNAME] = canaries.smtp
    fake_openai.api_key = canaries.openai
    fake_slack.add_token(canaries.slack, ("chat:write",))
    fake_notion.tokens.add(canaries.notion)
    tickets = fake_notion.add_database("Tickets", {"Name": "title"})
    echoing_services(local_http, canaries)
    credential_ids = await store_credentials(stack, canaries, fake_smtp)
    raw = definition(local_http, tickets)

    workflow_id = await stack.create(raw)
    started = await stack.api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": {}}, headers=stack.headers
    )
    assert started.status_code == 201, started.text
    run = await stack.finished(started.json()["id"])

    assert run["status"] == "succeeded", run
    # The secrets reached their services ...
    assert local_http.requests("/echo")[0].headers["authorization"] == f"Bearer {canaries.bearer}"
    assert local_http.requests("/whoami")[0].headers["authorization"] == canaries.basic_header
    assert local_http.requests("/refuse")[0].headers["x-api-key"] == canaries.api_key
    assert fake_smtp.auth_attempts[-1] == (USERNAME, canaries.smtp)
    assert fake_openai.requests[0].headers["authorization"] == f"Bearer {canaries.openai}"
    assert fake_slack.posted, "the message was posted with the canary token"
    assert fake_notion.pages, "the page was created with the canary token"
    # ... and what the services echoed came back scrubbed.
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert run["output"]["echo"] == {"headers": {"authorization": REDACTED}}
    assert run["output"]["who"]["body"] == f"you sent {REDACTED}"
    assert nodes["refused"]["status"] == "failed"
    assert f"invalid key {REDACTED}" in nodes["refused"]["error"]

    shown = await everything_the_api_shows(stack, run["id"], workflow_id, credential_ids)
    history = await stack.temporal("workflow", "show", "--workflow-id", temporal_id(run))
    logs = {name: stack.processes.log_of(name) for name in ("api", "worker")}
    rows = await every_row(POSTGRES_URL)

    assert '"credential.use"' in shown["GET /api/audit-logs"], "the audit log shows the uses"
    assert all(json.loads(line) for line in logs["worker"].splitlines() if line.strip())
    for canary in canaries.all():
        leaks = [request for request, text in shown.items() if canary in text]
        assert not leaks, (canary, leaks)
        assert not readable(history, canary), canary
        for name, log in logs.items():
            assert canary not in log, (canary, name)
        assert not [row for row in rows if canary in row], canary
