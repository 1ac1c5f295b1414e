"""slack.post_message: the Slack client against a local Slack look-alike, and real runs.

The connector tests drive `connectors.slack` (the production client, through the
production `GuardedTransport`) against `tests/support/fake_slack.py`; the run tests go
through the API, the real worker and the Temporal dev server with credentials stored in
the database.
"""

import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.credentials import CredentialStore
from activities.slack import SlackActivities
from connectors import slack
from connectors.errors import ConnectorError
from connectors.netguard import GuardedTransport
from connectors.slack import SlackClient, SlackMessage
from core.config import Settings
from core.crypto import associated_data, cipher_for
from core.db import create_engine, session_factory
from core.models import Credential
from tests.support.api import replace_credential, sign_up, user_id
from tests.support.fake_slack import TOKEN, WEBHOOK_PATH, FakeSlack
from tests.test_api_runs import create, finished, start
from workflows.catalog import NODE_TYPES
from workflows.contract import NodeInput
from workflows.nodes.slack import SlackPostMessageParams

LOOPBACK = ["127.0.0.1"]
RELEASE_EXAMPLE = json.loads(
    (
        Path(__file__).resolve().parent.parent / "examples/slack-release-announcement.json"
    ).read_text()
)


@pytest.fixture
async def slack_client(fake_slack: FakeSlack) -> AsyncIterator[SlackClient]:
    transport = GuardedTransport(LOOPBACK)
    async with SlackClient(api_url=fake_slack.api_url, transport=transport, timeout=30) as client:
        yield client


async def failure(call: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await call
    return caught.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- chat.postMessage -------------------------------------------------------------------


async def test_post_message_sends_json_with_the_bearer_token_and_returns_slacks_answer(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Deploy* done"}}]
    message = SlackMessage(text="Deploy done", blocks=blocks, unfurl_links=False)

    output = await slack_client.post_message(TOKEN, "#general", message)

    assert output["ok"] is True
    assert output["channel"] == "C0GENERAL"
    assert output["ts"] == fake_slack.posted[0].ts
    assert output["message"]["text"] == "Deploy done"
    assert output["message"]["blocks"] == blocks
    (request,) = fake_slack.requests("/api/chat.postMessage")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "channel": "#general",
        "text": "Deploy done",
        "blocks": blocks,
        "unfurl_links": False,
    }


async def test_thread_reply_options_reach_slack(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    parent = await slack_client.post_message(TOKEN, "C0GENERAL", SlackMessage(text="parent"))
    reply = SlackMessage(
        text="reply",
        thread_ts=parent["ts"],
        reply_broadcast=True,
        unfurl_media=False,
        mrkdwn=False,
        username="Deploy bot",
        icon_emoji=":rocket:",
    )

    output = await slack_client.post_message(TOKEN, "C0GENERAL", reply)

    assert output["message"]["thread_ts"] == parent["ts"]
    sent = fake_slack.requests("/api/chat.postMessage")[1].json()
    assert sent == {
        "channel": "C0GENERAL",
        "text": "reply",
        "thread_ts": parent["ts"],
        "reply_broadcast": True,
        "unfurl_media": False,
        "mrkdwn": False,
        "username": "Deploy bot",
        "icon_emoji": ":rocket:",
    }


@pytest.mark.parametrize(
    ("channel", "code", "hint"),
    [
        ("#nowhere", "channel_not_found", "use the channel ID"),
        ("#secret-plans", "channel_not_found", "invite the bot to private channels"),
        ("#random", "not_in_channel", "/invite"),
        ("#old-news", "is_archived", "archived"),
    ],
)
async def test_channel_errors_are_not_retryable_and_name_slacks_code(
    slack_client: SlackClient, channel: str, code: str, hint: str
) -> None:
    err = await failure(slack_client.post_message(TOKEN, channel, SlackMessage(text="hi")))

    assert (err.kind, err.retryable, err.retry_after) == ("SlackApiError", False, None)
    assert f"chat.postMessage failed: {code}" in err.message
    assert hint in err.message


async def test_public_channel_write_scope_posts_without_membership(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_token("xoxb-public-writer", ("chat:write", "chat:write.public"))

    output = await slack_client.post_message(
        "xoxb-public-writer", "#random", SlackMessage(text="hi")
    )

    assert output["channel"] == "C0RANDOM"


async def test_a_wrong_token_is_an_auth_error_that_does_not_echo_the_token(
    slack_client: SlackClient,
) -> None:
    bad = "xoxb-not-a-real-token-7788"

    err = await failure(slack_client.post_message(bad, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackAuthError", False)
    assert "invalid_auth" in err.message and "check the credential" in err.message
    assert bad not in err.message


async def test_missing_scope_says_which_scope_is_needed(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.add_token("xoxb-reader", ("channels:read",))

    err = await failure(
        slack_client.post_message("xoxb-reader", "#general", SlackMessage(text="hi"))
    )

    assert (err.kind, err.retryable) == ("SlackAuthError", False)
    assert "missing_scope" in err.message
    assert "needed: chat:write" in err.message and "has: channels:read" in err.message


async def test_invalid_blocks_repeat_slacks_explanation(slack_client: SlackClient) -> None:
    message = SlackMessage(text="x", blocks=[{"type": "sectoin", "text": "typo"}])

    err = await failure(slack_client.post_message(TOKEN, "#general", message))

    assert (err.kind, err.retryable) == ("SlackApiError", False)
    assert "invalid_blocks" in err.message
    assert "unsupported type `sectoin` [json-pointer:/blocks/0/type]" in err.message


async def test_http_429_is_retryable_with_slacks_retry_after(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.throttle("chat.postMessage", retry_after="7")

    err = await failure(slack_client.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable, err.retry_after) == ("SlackRateLimited", True, 7.0)
    assert "ratelimited" in err.message
    assert fake_slack.posted == []


async def test_ratelimited_code_without_429_is_still_retryable(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.error_next("chat.postMessage", "ratelimited")

    err = await failure(slack_client.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackRateLimited", True)


@pytest.mark.parametrize("code", ["internal_error", "service_unavailable"])
async def test_transient_slack_codes_are_retryable(
    slack_client: SlackClient, fake_slack: FakeSlack, code: str
) -> None:
    fake_slack.error_next("chat.postMessage", code)

    err = await failure(slack_client.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackUnavailable", True)
    assert code in err.message


async def test_fatal_error_is_not_retried_because_the_message_may_be_posted(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.error_next("chat.postMessage", "fatal_error")

    err = await failure(slack_client.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackApiError", False)
    assert "may or may not have been posted" in err.message


async def test_5xx_is_retryable(slack_client: SlackClient, fake_slack: FakeSlack) -> None:
    fake_slack.fail("chat.postMessage", 503, retry_after="2")

    err = await failure(slack_client.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable, err.retry_after) == ("SlackUnavailable", True, 2.0)
    assert "HTTP 503" in err.message


async def test_a_charsetless_content_type_would_be_flagged_by_slack(
    fake_slack: FakeSlack,
) -> None:
    """The fake warns like Slack does, so the client's exact header above is meaningful."""
    async with httpx.AsyncClient() as raw:
        answer = await raw.post(
            f"{fake_slack.api_url}/auth.test",
            content=b"{}",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )

    assert answer.json()["response_metadata"] == {"warnings": ["missing_charset"]}


async def test_a_non_slack_answer_is_a_clear_configuration_error(fake_slack: FakeSlack) -> None:
    transport = GuardedTransport(LOOPBACK)
    async with SlackClient(api_url=f"{fake_slack.base_url}/nope", transport=transport) as wrong:
        err = await failure(wrong.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackBadResponse", False)
    assert "is the Slack API URL right?" in err.message


async def test_connection_refused_is_retryable() -> None:
    api_url = f"http://127.0.0.1:{closed_port()}/api"
    async with SlackClient(api_url=api_url, transport=GuardedTransport(LOOPBACK)) as down:
        err = await failure(down.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackNetworkError", True)
    assert TOKEN not in err.message


async def test_the_guard_refuses_a_loopback_api_url_that_is_not_allowlisted(
    fake_slack: FakeSlack,
) -> None:
    async with SlackClient(api_url=fake_slack.api_url, transport=GuardedTransport()) as guarded:
        err = await failure(guarded.post_message(TOKEN, "#general", SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("TargetRefused", False)
    assert fake_slack.requests() == []


# --- incoming webhooks ------------------------------------------------------------------


async def test_webhook_posts_the_message_and_answers_ok(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    blocks = [{"type": "divider"}]
    message = SlackMessage(
        text="hello", blocks=blocks, thread_ts="1700000000.000100", username="ignored"
    )

    output = await slack_client.post_webhook(fake_slack.webhook_url, message)

    assert output == {"ok": True}
    (posted,) = fake_slack.posted
    assert (posted.via, posted.channel) == ("webhook", "C0GENERAL")
    assert posted.payload == {"text": "hello", "blocks": blocks, "thread_ts": "1700000000.000100"}
    (request,) = fake_slack.requests(WEBHOOK_PATH)
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert "authorization" not in request.headers


@pytest.mark.parametrize(
    ("state", "status", "code", "hint"),
    [
        ("archived", 410, "channel_is_archived", "archived"),
        ("prohibited", 403, "action_prohibited", "administrator"),
        ("channel_gone", 404, "channel_not_found", "no longer exists"),
    ],
)
async def test_webhook_refusals_are_not_retryable_and_name_slacks_code(
    slack_client: SlackClient, fake_slack: FakeSlack, state: str, status: int, code: str, hint: str
) -> None:
    fake_slack.set_webhook_state(state)

    err = await failure(slack_client.post_webhook(fake_slack.webhook_url, SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackWebhookError", False)
    assert f"HTTP {status} {code}" in err.message and hint in err.message
    assert WEBHOOK_PATH not in err.message and "hooksecret" not in err.message


async def test_a_removed_webhook_says_to_create_a_new_one(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    err = await failure(
        slack_client.post_webhook(
            f"{fake_slack.base_url}/services/T0/B0/gone", SlackMessage(text="x")
        )
    )

    assert (err.kind, err.retryable) == ("SlackWebhookError", False)
    assert "HTTP 404 no_service" in err.message and "create a new one" in err.message


async def test_webhook_invalid_blocks_are_refused(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    message = SlackMessage(blocks=[{"type": "bogus"}])

    err = await failure(slack_client.post_webhook(fake_slack.webhook_url, message))

    assert (err.kind, err.retryable) == ("SlackWebhookError", False)
    assert "HTTP 400 invalid_blocks" in err.message


async def test_webhook_429_is_retryable_with_retry_after(
    slack_client: SlackClient, fake_slack: FakeSlack
) -> None:
    fake_slack.throttle("webhook", retry_after="4")

    err = await failure(slack_client.post_webhook(fake_slack.webhook_url, SlackMessage(text="hi")))

    assert (err.kind, err.retryable, err.retry_after) == ("SlackRateLimited", True, 4.0)


async def test_webhook_5xx_is_retryable(slack_client: SlackClient, fake_slack: FakeSlack) -> None:
    fake_slack.fail("webhook", 500)

    err = await failure(slack_client.post_webhook(fake_slack.webhook_url, SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackUnavailable", True)


async def test_webhook_to_an_internal_address_is_refused_without_revealing_the_url(
    slack_client: SlackClient,
) -> None:
    url = "http://169.254.169.254/services/T0/B0/metadata-secret"

    err = await failure(slack_client.post_webhook(url, SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("TargetRefused", False)
    assert "metadata-secret" not in err.message


async def test_webhook_network_error_is_retryable_without_revealing_the_url(
    slack_client: SlackClient,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/services/T0/B0/offline-secret"

    err = await failure(slack_client.post_webhook(url, SlackMessage(text="hi")))

    assert (err.kind, err.retryable) == ("SlackNetworkError", True)
    assert "offline-secret" not in err.message


async def test_the_webhook_url_never_reaches_a_log_line(
    slack_client: SlackClient, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await slack_client.post_message(TOKEN, "#general", SlackMessage(text="logged"))
    await slack_client.post_webhook(fake_slack.webhook_url, SlackMessage(text="not logged"))

    assert "/api/chat.postMessage" in caplog.text, "httpx request logging is captured"
    assert "hooksecret" not in caplog.text
    assert TOKEN not in caplog.text


# --- test_connection --------------------------------------------------------------------


async def test_connection_with_a_bot_token_names_the_workspace_and_user(
    fake_slack: FakeSlack,
) -> None:
    message = await slack.test_connection(
        {"bot_token": TOKEN}, api_url=fake_slack.api_url, allowed_hosts=LOOPBACK
    )

    assert message == "Connected to workspace Acme Corp as flowbot."
    (request,) = fake_slack.requests("/api/auth.test")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert fake_slack.posted == []


async def test_connection_with_a_bad_token_fails_clearly(fake_slack: FakeSlack) -> None:
    err = await failure(
        slack.test_connection(
            {"bot_token": "xoxb-revoked"}, api_url=fake_slack.api_url, allowed_hosts=LOOPBACK
        )
    )

    assert (err.kind, err.retryable) == ("SlackAuthError", False)
    assert "auth.test failed: invalid_auth" in err.message


async def test_connection_of_a_webhook_only_credential_does_not_post(
    fake_slack: FakeSlack,
) -> None:
    message = await slack.test_connection(
        {"webhook_url": fake_slack.webhook_url}, api_url=fake_slack.api_url, allowed_hosts=LOOPBACK
    )

    assert message.startswith("Not tested: the incoming webhook cannot be tested without posting")
    assert fake_slack.requests() == []


async def test_connection_with_both_tests_the_token_and_explains_the_webhook(
    fake_slack: FakeSlack,
) -> None:
    message = await slack.test_connection(
        {"bot_token": TOKEN, "webhook_url": fake_slack.webhook_url},
        api_url=fake_slack.api_url,
        allowed_hosts=LOOPBACK,
    )

    assert message.startswith("Connected to workspace Acme Corp as flowbot; the incoming")
    assert fake_slack.requests(WEBHOOK_PATH) == []


async def test_connection_refuses_a_webhook_on_an_internal_address() -> None:
    err = await failure(
        slack.test_connection({"webhook_url": "https://10.0.0.8/services/T/B/internal-secret"})
    )

    assert (err.kind, err.retryable) == ("TargetRefused", False)
    assert "internal-secret" not in err.message


# --- params and catalog -----------------------------------------------------------------


def test_the_node_type_is_in_the_catalog_with_the_slack_credential_kind() -> None:
    entry = NODE_TYPES["slack.post_message"]

    assert (entry.runs_in, entry.credential_kinds, entry.credential_required) == (
        "activity",
        ("slack",),
        True,
    )
    assert "blocks" in entry.params_schema()["properties"]


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"channel": "#eng"}, "give text, blocks or both"),
        ({"text": "x", "reply_broadcast": True}, "reply_broadcast needs thread_ts"),
        ({"text": "x", "icon_emoji": ":a:", "icon_url": "https://x/i.png"}, "not both"),
        ({"text": "x", "thread_ts": "yesterday"}, "thread_ts"),
        ({"text": "x", "blocks": []}, "blocks"),
        ({"text": "x", "via": "email"}, "via"),
    ],
)
def test_params_refuse_inconsistent_messages(params: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlackPostMessageParams.model_validate(params)
    assert problem in str(caught.value)


# --- the activity -----------------------------------------------------------------------


@pytest.fixture
async def activities(tmp_path: Path, fake_slack: FakeSlack) -> AsyncIterator[SlackActivities]:
    settings = Settings(
        data_dir=tmp_path, http_allowed_hosts=LOOPBACK, slack_api_url=fake_slack.api_url
    )
    engine = create_engine(settings)
    store = CredentialStore(session_factory(engine), cipher_for(settings))
    acts = SlackActivities(settings, store)
    yield acts
    await acts.aclose()
    await engine.dispose()


def node(params: dict[str, Any], credential: str | None = "slack") -> NodeInput:
    return NodeInput(
        run_id="run-1",
        node_id="post",
        type="slack.post_message",
        params=params,
        credential=credential,
        idempotency_key="run-1:post",
    )


async def test_activity_invalid_params_name_the_field(activities: SlackActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.post_message, node({"text": 5}))

    assert (caught.value.type, caught.value.non_retryable) == ("InvalidParams", True)
    assert "text:" in caught.value.message


async def test_activity_without_a_credential_fails_clearly(activities: SlackActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(activities.post_message, node({"text": "x"}, None))

    assert (caught.value.type, caught.value.non_retryable) == ("CredentialUnavailable", True)
    assert "needs a credential of kind 'slack'" in caught.value.message


async def test_activity_registers_under_the_node_type(activities: SlackActivities) -> None:
    assert list(activities.activities()) == ["slack.post_message"]


# --- real runs through the API, the worker and Temporal ---------------------------------


@pytest.fixture
def api_settings(api_settings: Settings, fake_slack: FakeSlack) -> Settings:
    """The shared API settings, with the worker's Slack API pointed at the fake."""
    return api_settings.model_copy(update={"slack_api_url": fake_slack.api_url})


async def store_credential(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, data: dict[str, Any]
) -> None:
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text


def post_node(node_id: str, credential: str, **params: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "slack.post_message",
        "credential": credential,
        "retry": {"initial_interval": "100ms", "max_attempts": 3},
        "params": params,
    }


async def leaked(
    api: httpx.AsyncClient,
    headers: dict[str, str],
    temporal_env: WorkflowEnvironment,
    run_id: str,
    workflow_id: str,
    secret: str,
) -> list[str]:
    """Where `secret` shows up: API answers about the run, and the run's Temporal history."""
    places = [
        f"/api/runs/{run_id}",
        "/api/runs",
        "/api/credentials",
        f"/api/workflows/{workflow_id}",
    ]
    found = [place for place in places if secret in (await api.get(place, headers=headers)).text]
    handle = temporal_env.client.get_workflow_handle(f"run-{run_id}")
    if secret in (await handle.fetch_history()).to_json():
        found.append("temporal history")
    return found


async def test_a_run_posts_with_the_bot_token_honours_retry_after_and_leaks_no_token(
    live_api: httpx.AsyncClient, fake_slack: FakeSlack, temporal_env: WorkflowEnvironment
) -> None:
    canary = f"xoxb-canary-{uuid.uuid4().hex}"
    fake_slack.add_token(canary, ("chat:write",))
    fake_slack.throttle("chat.postMessage", retry_after="1")
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "slack-eng", "slack", {"bot_token": canary})
    definition = {
        "name": "Announce",
        "inputs": {"what": {"type": "string", "default": "v1.2 is out"}},
        "nodes": [post_node("post", "slack-eng", channel="#general", text="{{ inputs.what }}")],
        "output": "{{ nodes.post.output.ts }}",
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    (post,) = run["nodes"]
    assert post["attempts"] == 2
    assert post["output"]["ok"] is True
    assert post["output"]["channel"] == "C0GENERAL"
    assert run["output"] == post["output"]["ts"] == fake_slack.posted[0].ts
    throttled, accepted = fake_slack.requests("/api/chat.postMessage")
    assert accepted.at - throttled.at >= 0.9, "the retry waited for Slack's Retry-After"
    assert throttled.headers["authorization"] == accepted.headers["authorization"]
    assert accepted.headers["authorization"] == f"Bearer {canary}"
    assert await leaked(live_api, headers, temporal_env, run_id, workflow_id, canary) == []


async def test_a_run_posts_through_an_incoming_webhook_and_leaks_no_url(
    live_api: httpx.AsyncClient, fake_slack: FakeSlack, temporal_env: WorkflowEnvironment
) -> None:
    """The API only stores https webhook URLs and the fake speaks http, so this credential
    is written to the database the way the API writes one: encrypted, bound to its row."""
    headers = await sign_up(live_api)
    owner = uuid.UUID(await user_id(live_api, headers))
    app = live_api._transport.app  # type: ignore[attr-defined]
    credential_id = uuid.uuid4()
    ciphertext = cipher_for(app.state.settings).encrypt(
        {"webhook_url": fake_slack.webhook_url}, associated_data(owner, credential_id)
    )
    async with app.state.sessions() as session:
        session.add(
            Credential(
                id=credential_id, owner_id=owner, name="hook", kind="slack", ciphertext=ciphertext
            )
        )
        await session.commit()
    definition = {
        "name": "Notify",
        "nodes": [post_node("post", "hook", channel="#ignored", text="build green")],
    }
    workflow_id = await create(live_api, headers, definition)
    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    assert run["nodes"][0]["output"] == {"ok": True}
    (posted,) = fake_slack.posted
    assert (posted.via, posted.payload) == ("webhook", {"text": "build green"})
    assert await leaked(live_api, headers, temporal_env, run_id, workflow_id, "hooksecret") == []


async def test_slack_refusals_and_wrong_credentials_fail_their_node_at_once(
    live_api: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "slack-bot", "slack", {"bot_token": TOKEN})
    await store_credential(live_api, headers, "github", "slack", {"bot_token": TOKEN})
    failing = [
        post_node("lost", "slack-bot", channel="#nowhere", text="hi"),
        post_node("wrong_kind", "github", channel="#general", text="hi"),
        post_node("no_channel", "slack-bot", text="hi"),
        post_node("no_webhook", "slack-bot", text="hi", via="webhook"),
    ]
    definition = {"name": "Failures", "nodes": [{**n, "on_error": "continue"} for n in failing]}
    workflow_id = await create(live_api, headers, definition)
    await replace_credential(live_api, headers, "github", "bearer", {"token": "ghp-not-slack"})
    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    nodes = {n["node_id"]: n for n in run["nodes"]}
    assert {n["status"] for n in nodes.values()} == {"failed"}, run
    assert "channel_not_found" in nodes["lost"]["error"]
    assert "kind 'bearer'" in nodes["wrong_kind"]["error"]
    assert "channel: required when posting with a bot token" in nodes["no_channel"]["error"]
    assert "has no webhook_url, and via is 'webhook'" in nodes["no_webhook"]["error"]
    assert len(fake_slack.requests("/api/chat.postMessage")) == 1, "channel_not_found: no retry"
    assert fake_slack.posted == []


async def test_the_example_announces_a_release_and_threads_the_changelog(
    live_api: httpx.AsyncClient, fake_slack: FakeSlack
) -> None:
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "slack-releases", "slack", {"bot_token": TOKEN})
    workflow_id = await create(live_api, headers, RELEASE_EXAMPLE)
    run_id = await start(live_api, headers, workflow_id, channel="#general")
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    announcement, changelog = fake_slack.posted
    assert announcement.payload["blocks"][0]["text"]["text"] == ":rocket: billing-api 2.4.0"
    assert changelog.payload["thread_ts"] == announcement.ts == run["output"]
    assert changelog.channel == announcement.channel == "C0GENERAL"
