"""`POST /api/credentials/{id}/test` contacts each service, through the connectors' own clients.

The services are the local servers that speak their wire protocols (tests/support/fake_*),
reached through the API with only the base URLs changed.
"""

import uuid
from typing import Any

import httpx
import pytest

from core.config import Settings
from tests.support.api import sign_up
from tests.support.fake_notion import TOKEN as NOTION_TOKEN
from tests.support.fake_notion import FakeNotion
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_sheets import FakeGoogleSheets
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_slack import FakeSlack
from tests.support.fake_smtp import FakeSmtpServer


@pytest.fixture
def api_settings(
    api_settings: Settings,
    fake_slack: FakeSlack,
    fake_notion: FakeNotion,
    fake_openai: FakeOpenAI,
    fake_sheets: FakeGoogleSheets,
) -> Settings:
    return api_settings.model_copy(
        update={
            "slack_api_url": fake_slack.api_url,
            "notion_api_url": fake_notion.base_url,
            "openai_base_url": fake_openai.base_url,
            "google_sheets_api_url": fake_sheets.sheets_api_url,
        }
    )


@pytest.fixture
def credentials(
    fake_smtp: FakeSmtpServer, fake_openai: FakeOpenAI, fake_sheets: FakeGoogleSheets
) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """kind → (working data, data the service refuses)."""
    return {
        "smtp": (fake_smtp.credential(), fake_smtp.credential(password="wrong password")),
        "openai": ({"api_key": fake_openai.api_key}, {"api_key": "sk-wrong-key"}),
        "slack": ({"bot_token": SLACK_TOKEN}, {"bot_token": "xoxb-wrong"}),
        "notion": ({"token": NOTION_TOKEN}, {"token": "ntn_wrong"}),
        "google_service_account": (
            {"service_account_json": fake_sheets.service_account()},
            {"service_account_json": fake_sheets.service_account(registered=False)},
        ),
        "google_oauth_token": (
            {"access_token": fake_sheets.oauth_token()},
            {"access_token": "ya29.wrong"},
        ),
    }


async def result_of_test(
    api: httpx.AsyncClient, headers: dict[str, str], kind: str, data: dict[str, Any]
) -> dict[str, Any]:
    created = await api.post(
        "/api/credentials",
        json={"name": f"{kind}-{uuid.uuid4().hex[:8]}", "kind": kind, "data": data},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    answer = await api.post(f"/api/credentials/{created.json()['id']}/test", headers=headers)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


@pytest.mark.parametrize(
    "kind",
    ["smtp", "openai", "slack", "notion", "google_service_account", "google_oauth_token"],
)
async def test_a_credential_test_contacts_its_service_and_tells_good_from_bad(
    api: httpx.AsyncClient,
    credentials: dict[str, tuple[dict[str, Any], dict[str, Any]]],
    kind: str,
) -> None:
    headers = await sign_up(api)
    good, bad = credentials[kind]

    working = await result_of_test(api, headers, kind, good)
    refused = await result_of_test(api, headers, kind, bad)

    assert (working["ok"], working["live"]) == (True, True), working
    assert (refused["ok"], refused["live"]) == (False, True), refused
    assert refused["message"]


async def test_a_webhook_only_slack_credential_is_vetted_but_not_posted_to(
    api: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    headers = await sign_up(api)

    result = await result_of_test(
        api, headers, "slack", {"webhook_url": "https://127.0.0.1:9/services/T/B/x"}
    )

    assert (result["live"], result["ok"]) == (False, True)
    assert "without posting" in result["message"]


async def test_a_credential_cannot_probe_internal_addresses(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    """The allowlist of these tests admits 127.0.0.1 only; 10.0.0.1 is private."""
    headers = await sign_up(api)

    result = await result_of_test(
        api, headers, "openai", {"api_key": "sk-x", "base_url": "http://10.0.0.1:8080/v1"}
    )

    assert (result["ok"], result["live"]) == (False, True)
    assert "refused" in result["message"]


async def test_kinds_without_a_service_are_not_contacted(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)

    result = await result_of_test(api, headers, "bearer", {"token": "t"})

    assert (result["ok"], result["live"]) == (True, False)
