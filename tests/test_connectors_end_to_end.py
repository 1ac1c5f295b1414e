"""The support-inbox example end to end: an LLM, Notion, Slack and email in one real run.

Credentials are created through the API, the run goes through the real worker and the
Temporal dev server, and each service is the local server speaking its wire protocol.
"""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.config import Settings
from tests.support.api import sign_up
from tests.support.fake_notion import TOKEN as NOTION_TOKEN
from tests.support.fake_notion import FakeNotion
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_slack import FakeSlack
from tests.support.fake_smtp import FakeSmtpServer
from tests.test_api_runs import create, finished, start

EXAMPLE = json.loads(
    (Path(__file__).resolve().parent.parent / "examples" / "support-inbox.json").read_text()
)


@pytest.fixture
def api_settings(
    api_settings: Settings, fake_slack: FakeSlack, fake_notion: FakeNotion, fake_openai: FakeOpenAI
) -> Settings:
    return api_settings.model_copy(
        update={
            "slack_api_url": fake_slack.api_url,
            "notion_api_url": fake_notion.base_url,
            "openai_base_url": fake_openai.base_url,
        }
    )


async def store(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, data: dict[str, Any]
) -> None:
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text


async def test_a_ticket_is_classified_logged_announced_and_paged_with_stored_credentials(
    live_api: httpx.AsyncClient,
    fake_openai: FakeOpenAI,
    fake_notion: FakeNotion,
    fake_slack: FakeSlack,
    fake_smtp: FakeSmtpServer,
) -> None:
    tickets = fake_notion.add_database(
        "Tickets",
        {"Name": "title", "Customer": "rich_text", "Category": "select", "Urgency": "select"},
    )
    headers = await sign_up(live_api)
    await store(live_api, headers, "openai", "openai", {"api_key": fake_openai.api_key})
    await store(live_api, headers, "notion", "notion", {"token": NOTION_TOKEN})
    await store(live_api, headers, "slack-support", "slack", {"bot_token": SLACK_TOKEN})
    await store(live_api, headers, "team-mail", "smtp", fake_smtp.credential())
    workflow_id = await create(live_api, headers, EXAMPLE)
    fake_openai.queue(
        json.dumps({"category": "bug", "urgency": "critical", "summary": "Exports lose rows"}),
        json.dumps({"category": "how_to", "urgency": "low", "summary": "Asks about SSO"}),
    )
    common = {"tickets_database": tickets, "channel": "#general", "on_call": "ops@example.com"}

    critical = await finished(
        live_api,
        headers,
        await start(
            live_api,
            headers,
            workflow_id,
            subject="CSV export drops rows",
            body="Half of my rows are missing since this morning.",
            customer="Ana",
            **common,
        ),
    )
    routine = await finished(
        live_api,
        headers,
        await start(
            live_api,
            headers,
            workflow_id,
            subject="SSO?",
            body="How do I set up SSO?",
            customer="Bo",
            **common,
        ),
    )

    assert critical["status"] == "succeeded", critical
    assert routine["status"] == "succeeded", routine
    first_prompt = fake_openai.requests[0].json()["messages"][-1]["content"]
    assert "CSV export drops rows" in first_prompt
    logged = [page for page in fake_notion.pages.values() if page["parent"].get("database_id")]
    assert len(logged) == 2
    assert {uuid.UUID(page["parent"]["database_id"]) for page in logged} == {uuid.UUID(tickets)}
    assert critical["output"]["notion_page"] in {page["url"] for page in logged}
    announcement, second = fake_slack.posted
    assert announcement.channel == "C0GENERAL"
    assert announcement.payload["text"].startswith("New critical bug ticket from Ana")
    assert critical["output"]["slack_ts"] == announcement.ts
    assert "low how_to" in second.payload["text"]
    [page_mail] = fake_smtp.mails
    assert page_mail.rcpt_tos == ["ops@example.com"]
    assert page_mail.message["Subject"] == "[critical] CSV export drops rows"
    assert (critical["output"]["paged"], routine["output"]["paged"]) == (True, False)
    nodes = {node["node_id"]: node["status"] for node in routine["nodes"]}
    assert nodes == {
        "triage": "succeeded",
        "log": "succeeded",
        "announce": "succeeded",
        "page": "skipped",
    }
