"""llm.chat: the OpenAI-compatible client against a local OpenAI-speaking server, and real runs."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.llm import MAX_ANSWER_ATTEMPTS, chat_request
from connectors.errors import ConnectorError
from connectors.llm import (
    DEFAULT_BASE_URL,
    ChatRequest,
    OpenAIAccount,
    OpenAIChat,
    StructuredOutput,
    parse_json_answer,
)
from connectors.llm import test_connection as check_connection
from connectors.netguard import GuardedTransport
from tests.support.api import replace_credential, sign_up
from tests.support.fake_openai import (
    Answer,
    ApiError,
    FakeOpenAI,
    bad_request,
    quota_exceeded,
    rate_limited,
    server_error,
)
from tests.support.local_http import LocalHttpServer
from tests.test_api_runs import create, finished, start
from workflows.definition import validate_definition
from workflows.nodes.llm import LlmChatParams

LOOPBACK = ["127.0.0.1"]
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer", "minimum": 0},
    },
    "required": ["city", "population"],
    "additionalProperties": False,
}


@pytest.fixture
async def chat() -> AsyncIterator[OpenAIChat]:
    transport = GuardedTransport(LOOPBACK)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as http:
        yield OpenAIChat(http, timeout=30)


@pytest.fixture
def account(fake_openai: FakeOpenAI) -> OpenAIAccount:
    return OpenAIAccount(api_key=fake_openai.api_key, base_url=fake_openai.base_url)


def ask(prompt: str = "Say hi", **fields: Any) -> ChatRequest:
    return ChatRequest(model="gpt-4o", messages=[{"role": "user", "content": prompt}], **fields)


def city_request(**fields: Any) -> ChatRequest:
    return ask(
        "Largest city of France, as JSON", json_schema=StructuredOutput(CITY_SCHEMA), **fields
    )


async def failure(chat: OpenAIChat, account: OpenAIAccount, request: ChatRequest) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await chat.complete(account, request)
    return caught.value


# --- answers --------------------------------------------------------------------------


async def test_a_prompt_gets_text_model_finish_reason_and_usage(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Answer("Bonjour !", model="gpt-4o-2024-08-06"))

    answer = await chat.complete(account, ask("Say hello in French"))

    assert answer.as_output() == {
        "text": "Bonjour !",
        "json": None,
        "model": "gpt-4o-2024-08-06",
        "finish_reason": "stop",
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
        "id": "chatcmpl-fake000000",
        "refusal": None,
    }
    [sent] = fake_openai.requests
    assert (sent.method, sent.path) == ("POST", "/v1/chat/completions")
    assert sent.headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert sent.json() == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Say hello in French"}],
    }


async def test_sampling_options_reach_the_server_and_unset_ones_are_left_out(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    await chat.complete(
        account, ask(temperature=0.2, max_tokens=50, stop=["\n\n"], seed=7, top_p=0.9)
    )

    body = fake_openai.requests[0].json()
    assert {key: body[key] for key in ("temperature", "max_tokens", "stop", "seed", "top_p")} == {
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n\n"],
        "seed": 7,
        "top_p": 0.9,
    }
    assert "frequency_penalty" not in body and "response_format" not in body


def test_system_messages_and_prompt_are_sent_in_conversation_order() -> None:
    params = LlmChatParams.model_validate(
        {
            "system": "Be terse.",
            "messages": [
                {"role": "user", "content": "Capital of France?"},
                {"role": "assistant", "content": "Paris."},
            ],
            "prompt": "And of Italy?",
        }
    )

    request = chat_request(params, "gpt-4o-mini")

    assert request.model == "gpt-4o-mini"
    assert request.messages == [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "give prompt, messages or both"),
        ({"prompt": "x", "temperature": 3}, "temperature"),
        ({"prompt": "x", "json_output": True, "json_schema": CITY_SCHEMA}, "not both"),
        ({"prompt": "x", "json_schema": {"type": "array"}}, '"type": "object"'),
        ({"prompt": "x", "schema_name": "has space"}, "schema_name"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "params.messages[0].role"),
        ({"prompt": "x", "max_token": 5}, "max_token"),
    ],
)
def test_invalid_params_name_what_is_wrong(params: dict[str, Any], field: str) -> None:
    definition = {
        "name": "bad",
        "nodes": [{"id": "ask", "type": "llm.chat", "credential": "ai", "params": params}],
    }
    with pytest.raises(ValueError) as caught:
        validate_definition(definition)
    assert field in str(caught.value)


# --- structured output --------------------------------------------------------------------


async def test_a_json_schema_is_sent_as_strict_response_format_and_the_answer_is_parsed(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue('{"city": "Paris", "population": 2102650}')

    answer = await chat.complete(account, city_request())

    assert answer.json == {"city": "Paris", "population": 2102650}
    assert answer.text == '{"city": "Paris", "population": 2102650}'
    assert fake_openai.requests[0].json()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": CITY_SCHEMA, "strict": True},
    }


async def test_json_output_mode_asks_for_a_json_object_and_parses_the_answer(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue('{"ok": true}')

    answer = await chat.complete(account, ask("Reply in JSON", json_object=True))

    assert answer.json == {"ok": True}
    assert fake_openai.requests[0].json()["response_format"] == {"type": "json_object"}


async def test_a_json_object_request_that_never_mentions_json_is_refused_by_the_server(
    chat: OpenAIChat, account: OpenAIAccount
) -> None:
    error = await failure(chat, account, ask("Reply", json_object=True))

    assert (error.kind, error.retryable) == ("LlmBadRequest", False)
    assert "must contain the word 'json'" in error.message


async def test_a_json_answer_in_a_markdown_fence_is_unwrapped(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue('```json\n{"city": "Lyon", "population": 522250}\n```')

    answer = await chat.complete(account, city_request())

    assert answer.json == {"city": "Lyon", "population": 522250}


async def test_a_malformed_json_answer_is_a_retryable_invalid_json_error(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue('Sure! {"city": "Paris",')

    error = await failure(chat, account, city_request())

    assert (error.kind, error.retryable) == ("LlmInvalidJson", True)
    assert "not valid JSON" in error.message and "Sure!" in error.message


async def test_an_answer_that_breaks_the_schema_says_where(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue('{"city": "Paris", "population": -3}')

    error = await failure(chat, account, city_request())

    assert (error.kind, error.retryable) == ("LlmSchemaMismatch", True)
    assert "at /population" in error.message and "minimum" in error.message


async def test_a_refusal_with_a_schema_is_a_clear_final_error(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Answer(None, refusal="I'm sorry, I can't help with that."))

    error = await failure(chat, account, city_request())

    assert (error.kind, error.retryable) == ("LlmRefusal", False)
    assert "refused to answer: I'm sorry, I can't help with that." in error.message


async def test_a_json_answer_cut_off_at_max_tokens_is_a_final_error(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Answer('{"city": "Par', finish_reason="length"))

    error = await failure(chat, account, city_request(max_tokens=5))

    assert (error.kind, error.retryable) == ("LlmOutputTruncated", False)
    assert "max_tokens=5" in error.message


async def test_a_text_answer_cut_off_at_max_tokens_is_returned_as_it_is(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Answer("Once upon a", finish_reason="length"))

    answer = await chat.complete(account, ask(max_tokens=3))

    assert (answer.text, answer.finish_reason) == ("Once upon a", "length")


async def test_an_invalid_schema_fails_before_any_call(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    broken = {"type": "object", "properties": {"n": {"type": "integr"}}}

    error = await failure(chat, account, ask(json_schema=StructuredOutput(broken)))

    assert (error.kind, error.retryable) == ("LlmInvalidSchema", False)
    assert fake_openai.requests == []


async def test_a_remote_ref_in_the_schema_is_refused_and_never_fetched(
    chat: OpenAIChat,
    account: OpenAIAccount,
    fake_openai: FakeOpenAI,
    local_http: LocalHttpServer,
) -> None:
    local_http.route("/schema.json", [(200, {"type": "string"})])
    schema = {"type": "object", "properties": {"x": {"$ref": local_http.url("/schema.json")}}}

    error = await failure(chat, account, ask(json_schema=StructuredOutput(schema, strict=False)))

    assert error.kind == "LlmInvalidSchema" and "remote $ref" in error.message
    assert local_http.hits("/schema.json") == 0
    assert fake_openai.requests == []


async def test_a_schema_the_server_cannot_enforce_strictly_is_a_bad_request(
    chat: OpenAIChat, account: OpenAIAccount
) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}

    error = await failure(chat, account, ask("JSON please", json_schema=StructuredOutput(loose)))

    assert (error.kind, error.retryable) == ("LlmBadRequest", False)
    assert "'additionalProperties' is required to be supplied and to be false" in error.message


async def test_a_non_strict_schema_is_checked_here_instead(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    fake_openai.queue('{"town": "Paris"}')
    request = ask("JSON please", json_schema=StructuredOutput(loose, name="place", strict=False))

    error = await failure(chat, account, request)

    assert error.kind == "LlmSchemaMismatch" and "city" in error.message
    assert fake_openai.requests[0].json()["response_format"]["json_schema"]["strict"] is False


def test_json_parsing_keeps_scalars_and_reports_garbage() -> None:
    assert parse_json_answer(" 42 ") == 42
    assert parse_json_answer('```\n["a"]\n```') == ["a"]
    with pytest.raises(ConnectorError):
        parse_json_answer("```json\nnot json\n```")


@pytest.mark.parametrize("body", [{"choices": []}, {"choices": [{"message": None}]}, "<html>"])
async def test_a_body_without_a_chat_message_is_an_invalid_response(
    chat: OpenAIChat, local_http: LocalHttpServer, body: Any
) -> None:
    local_http.route("/v1/chat/completions", [(200, body)])
    account = OpenAIAccount(api_key="sk-x", base_url=local_http.url("/v1"))

    error = await failure(chat, account, ask())

    assert (error.kind, error.retryable) == ("LlmInvalidResponse", False)


# --- errors ---------------------------------------------------------------------------


async def test_429_is_retryable_and_carries_retry_after(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(rate_limited(retry_after=7))

    error = await failure(chat, account, ask())

    assert (error.kind, error.retryable, error.retry_after) == ("LlmRateLimited", True, 7.0)
    assert "Rate limit reached for gpt-4o" in error.message
    assert "request id req_" in error.message


async def test_retry_after_ms_is_preferred_to_retry_after(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(rate_limited(retry_after=20, retry_after_ms=1500))

    error = await failure(chat, account, ask())

    assert error.retry_after == 1.5


async def test_429_for_an_exhausted_quota_is_not_retried(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(quota_exceeded())

    error = await failure(chat, account, ask())

    assert (error.kind, error.retryable, error.retry_after) == ("LlmRateLimited", False, None)
    assert "exceeded your current quota" in error.message


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI, status: int
) -> None:
    fake_openai.queue(server_error(status))

    error = await failure(chat, account, ask())

    assert (error.kind, error.retryable) == ("LlmServerError", True)
    assert f"answered {status}: The server had an error" in error.message


async def test_the_server_can_say_a_5xx_is_not_worth_retrying(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(ApiError(503, "overloaded", headers={"x-should-retry": "false"}))

    assert (await failure(chat, account, ask())).retryable is False


CLIENT_ERRORS = [
    (bad_request("Invalid 'messages[0].content': string too long.", "messages"), "LlmBadRequest"),
    (ApiError(403, "Country, region, or territory not supported"), "LlmPermissionDenied"),
    (ApiError(422, "Unprocessable entity: bad tool schema"), "LlmBadRequest"),
    (ApiError(404, "Invalid URL (POST /v1/chat/completions)"), "LlmNotFound"),
]


@pytest.mark.parametrize(("reply", "kind"), CLIENT_ERRORS)
async def test_client_errors_are_final_and_say_what_the_api_said(
    chat: OpenAIChat, account: OpenAIAccount, fake_openai: FakeOpenAI, reply: ApiError, kind: str
) -> None:
    fake_openai.queue(reply)

    error = await failure(chat, account, ask())

    assert (error.kind, error.retryable, error.retry_after) == (kind, False, None)
    assert f"answered {reply.status}: {reply.message}" in error.message


async def test_an_unknown_model_is_a_final_not_found(
    chat: OpenAIChat, account: OpenAIAccount
) -> None:
    error = await failure(chat, account, ChatRequest(model="gpt-9", messages=[]))

    assert (error.kind, error.retryable) == ("LlmNotFound", False)
    assert "The model `gpt-9` does not exist" in error.message


async def test_a_wrong_key_is_refused_and_never_echoed(
    chat: OpenAIChat, fake_openai: FakeOpenAI
) -> None:
    fake_openai.echo_full_key = True
    wrong = OpenAIAccount(api_key="sk-wrong-canary-31337", base_url=fake_openai.base_url)

    error = await failure(chat, wrong, ask())

    assert (error.kind, error.retryable) == ("LlmAuthenticationFailed", False)
    assert "Incorrect API key provided: ***" in error.message
    assert "canary" not in error.message and "31337" not in repr(wrong)


async def test_an_openai_style_masked_key_is_not_echoed_either(
    chat: OpenAIChat, fake_openai: FakeOpenAI
) -> None:
    wrong = OpenAIAccount(api_key="sk-wrong-canary-31337", base_url=fake_openai.base_url)

    error = await failure(chat, wrong, ask())

    assert "31337" not in error.message


async def test_an_unreachable_endpoint_is_a_retryable_network_error(chat: OpenAIChat) -> None:
    nowhere = OpenAIAccount(api_key="sk-x", base_url="http://127.0.0.1:9/v1")

    error = await failure(chat, nowhere, ask())

    assert (error.kind, error.retryable) == ("LlmNetworkError", True)
    assert "cannot reach http://127.0.0.1:9/v1" in error.message


async def test_a_slow_answer_is_a_retryable_timeout(
    account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(Answer("late", delay=2))
    async with httpx.AsyncClient(transport=GuardedTransport(LOOPBACK), trust_env=False) as http:
        error = await failure(OpenAIChat(http, timeout=0.5), account, ask())

    assert (error.kind, error.retryable) == ("LlmTimeout", True)


async def test_a_private_endpoint_outside_the_allowlist_is_refused_unsent(
    account: OpenAIAccount, fake_openai: FakeOpenAI
) -> None:
    async with httpx.AsyncClient(transport=GuardedTransport(), trust_env=False) as http:
        error = await failure(OpenAIChat(http), account, ask())

    assert (error.kind, error.retryable) == ("TargetRefused", False)
    assert fake_openai.requests == []


async def test_the_workers_openai_environment_does_not_leak_into_a_users_call(
    chat: OpenAIChat,
    account: OpenAIAccount,
    fake_openai: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-operator")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator")
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-operator")

    await chat.complete(account, ask())

    headers = fake_openai.requests[0].headers
    assert headers["authorization"] == f"Bearer {fake_openai.api_key}"
    assert "openai-organization" not in headers and "openai-project" not in headers


def test_an_account_takes_the_credentials_base_url_then_the_default_then_openai() -> None:
    own = OpenAIAccount.from_credential({"api_key": "k", "base_url": "http://a/v1"}, "http://b/v1")
    fallback = OpenAIAccount.from_credential({"api_key": "k"}, "http://b/v1")
    plain = OpenAIAccount.from_credential({"api_key": "k"})

    assert [own.base_url, fallback.base_url, plain.base_url] == [
        "http://a/v1",
        "http://b/v1",
        DEFAULT_BASE_URL,
    ]
    with pytest.raises(ConnectorError, match="no api_key"):
        OpenAIAccount.from_credential({"base_url": "http://a/v1"})


# --- test connection ----------------------------------------------------------------------


async def test_connection_lists_the_models_the_key_can_use(fake_openai: FakeOpenAI) -> None:
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}

    message = await check_connection({**credential, "model": "gpt-4o-mini"}, allowed_hosts=LOOPBACK)

    assert message == (
        f"Connected to {fake_openai.base_url}: 2 model(s) available; "
        "the credential's model 'gpt-4o-mini' is among them"
    )


async def test_connection_says_when_the_credentials_model_is_not_listed(
    fake_openai: FakeOpenAI,
) -> None:
    credential = {"api_key": fake_openai.api_key, "model": "llama3"}

    message = await check_connection(
        credential, allowed_hosts=LOOPBACK, default_base_url=fake_openai.base_url
    )

    assert message.endswith("the credential's model 'llama3' is not among them")


async def test_connection_with_a_wrong_key_fails_without_the_key(fake_openai: FakeOpenAI) -> None:
    fake_openai.echo_full_key = True
    credential = {"api_key": "sk-revoked-canary-4242", "base_url": fake_openai.base_url}

    with pytest.raises(ConnectorError) as caught:
        await check_connection(credential, allowed_hosts=LOOPBACK)

    assert (caught.value.kind, caught.value.retryable) == ("LlmAuthenticationFailed", False)
    assert "4242" not in caught.value.message


async def test_connection_refuses_a_private_endpoint_unless_allowed(
    fake_openai: FakeOpenAI,
) -> None:
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}

    with pytest.raises(ConnectorError) as caught:
        await check_connection(credential)

    assert caught.value.kind == "TargetRefused"


# --- real runs through the API, the worker and Temporal --------------------------------------


async def store_openai_credential(
    api: httpx.AsyncClient, headers: dict[str, str], data: dict[str, Any], name: str = "ai"
) -> None:
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": "openai", "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text


def llm_definition(params: dict[str, Any], **node: Any) -> dict[str, Any]:
    return {
        "name": "Ask the model",
        "nodes": [
            {
                "id": "ask",
                "type": "llm.chat",
                "credential": "ai",
                "params": params,
                "retry": {"max_attempts": 5, "initial_interval": "100ms"},
                **node,
            }
        ],
        "output": "{{ nodes.ask.output }}",
    }


async def run_llm(
    api: httpx.AsyncClient, data: dict[str, Any], params: dict[str, Any], **node: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Store the credential, run a one-node workflow; the finished run, its node, headers."""
    headers = await sign_up(api)
    await store_openai_credential(api, headers, data)
    workflow_id = await create(api, headers, llm_definition(params, **node))
    run = await finished(api, headers, await start(api, headers, workflow_id))
    [ask_node] = [node for node in run["nodes"] if node["node_id"] == "ask"]
    return run, ask_node, headers


async def last_attempt(temporal_env: WorkflowEnvironment, run_id: str) -> int:
    """The attempt number of the run's last llm.chat activity start, from Temporal's history.

    The run API reports 0 attempts for a node that failed non-retryably, so the history is
    the witness of how many times the activity really ran.
    """
    history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    scheduled = {
        event.event_id
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        and event.activity_task_scheduled_event_attributes.activity_type.name == "llm.chat"
    }
    return max(
        event.activity_task_started_event_attributes.attempt
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
        and event.activity_task_started_event_attributes.scheduled_event_id in scheduled
    )


async def test_a_run_uses_the_stored_key_and_the_key_appears_nowhere_else(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI, temporal_env: WorkflowEnvironment
) -> None:
    canary = "sk-canary-5e1f0c-do-not-leak"
    fake_openai.api_key = canary
    fake_openai.queue('{"city": "Paris", "population": 2102650}')
    credential = {"api_key": canary, "base_url": fake_openai.base_url, "model": "gpt-4o-mini"}
    params = {"system": "Answer with facts.", "prompt": "Largest French city?"}

    run, _, headers = await run_llm(live_api, credential, {**params, "json_schema": CITY_SCHEMA})

    assert run["status"] == "succeeded", run
    assert run["output"]["json"] == {"city": "Paris", "population": 2102650}
    assert run["output"]["model"] == "gpt-4o-mini"
    assert run["output"]["usage"]["total_tokens"] > 0
    [sent] = fake_openai.requests
    assert sent.headers["authorization"] == f"Bearer {canary}"
    assert sent.json()["model"] == "gpt-4o-mini"
    assert sent.json()["messages"][0] == {"role": "system", "content": "Answer with facts."}
    answers = [
        await live_api.get(f"/api/runs/{run['id']}", headers=headers),
        await live_api.get("/api/runs", headers=headers),
        await live_api.get("/api/credentials", headers=headers),
        await live_api.get(f"/api/workflows/{run['workflow_id']}", headers=headers),
    ]
    assert all(answer.status_code == 200 for answer in answers)
    assert all(canary not in answer.text for answer in answers)
    history = await temporal_env.client.get_workflow_handle(f"run-{run['id']}").fetch_history()
    assert canary not in history.to_json()


async def test_a_rate_limited_call_succeeds_on_attempt_2_after_the_retry_after_delay(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue(rate_limited(retry_after=2), "Hello after waiting")
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}

    run, node, _ = await run_llm(live_api, credential, {"prompt": "Hi"})

    assert run["status"] == "succeeded", run
    assert (node["status"], node["attempts"]) == ("succeeded", 2)
    assert run["output"]["text"] == "Hello after waiting"
    first, second = fake_openai.requests
    assert second.at - first.at >= 1.9, "the retry came before the server's Retry-After"


async def test_a_bad_request_fails_the_node_at_once_without_retrying(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI, temporal_env: WorkflowEnvironment
) -> None:
    fake_openai.queue(bad_request("This model's maximum context length is 128000 tokens."))
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}

    run, node, _ = await run_llm(live_api, credential, {"prompt": "Hi"})

    assert (run["status"], node["status"]) == ("failed", "failed")
    assert "maximum context length is 128000 tokens" in node["error"]
    assert len(fake_openai.requests) == 1
    assert await last_attempt(temporal_env, run["id"]) == 1


async def test_a_malformed_json_answer_is_asked_again_and_the_good_one_is_kept(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.queue("Paris, about 2.1 million", '{"city": "Paris", "population": 2102650}')
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}
    params = {"prompt": "Largest French city?", "json_schema": CITY_SCHEMA}

    run, node, _ = await run_llm(live_api, credential, params)

    assert run["status"] == "succeeded", run
    assert node["attempts"] == 2
    assert run["output"]["json"]["city"] == "Paris"


async def test_bad_json_answers_stop_being_retried_after_the_answer_attempt_bound(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI, temporal_env: WorkflowEnvironment
) -> None:
    fake_openai.set_default_reply('{"city": "Paris"}')
    credential = {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url}
    params = {"prompt": "Largest French city?", "json_schema": CITY_SCHEMA}

    run, node, _ = await run_llm(live_api, credential, params)

    assert (run["status"], node["status"]) == ("failed", "failed")
    assert len(fake_openai.requests) == MAX_ANSWER_ATTEMPTS < 5
    assert await last_attempt(temporal_env, run["id"]) == MAX_ANSWER_ATTEMPTS
    assert f"giving up after {MAX_ANSWER_ATTEMPTS} answers" in node["error"]
    assert "does not match json_schema" in node["error"] and "population" in node["error"]


async def test_a_credential_of_another_kind_fails_the_node_clearly_without_a_call(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI, temporal_env: WorkflowEnvironment
) -> None:
    headers = await sign_up(live_api)
    await replace_credential(live_api, headers, "ai", "openai", {"api_key": fake_openai.api_key})
    workflow_id = await create(live_api, headers, llm_definition({"prompt": "Hi"}))
    await replace_credential(live_api, headers, "ai", "bearer", {"token": "not-an-openai-key"})
    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    [node] = run["nodes"]
    assert (run["status"], node["status"]) == ("failed", "failed")
    assert await last_attempt(temporal_env, run["id"]) == 1
    assert "is of kind 'bearer', which llm.chat cannot use" in node["error"]
    assert fake_openai.requests == []


def test_the_fake_servers_error_body_is_the_apis(fake_openai: FakeOpenAI) -> None:
    fake_openai.queue(bad_request("nope", param="messages", code="bad"))
    answer = httpx.post(
        f"{fake_openai.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {fake_openai.api_key}"},
        content=json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}),
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "message": "nope",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "bad",
    }


async def test_the_ticket_triage_example_routes_a_ticket_with_the_models_verdict(
    live_api: httpx.AsyncClient, fake_openai: FakeOpenAI
) -> None:
    example = json.loads((EXAMPLES / "llm-ticket-triage.json").read_text())
    verdict = {
        "category": "bug",
        "urgency": "high",
        "sentiment": "negative",
        "summary": "CSV export fails with a 500 since this morning.",
        "reply_draft": "Hi Ada, sorry about that, we are looking into it.",
    }
    fake_openai.models = ["gpt-4o-mini"]
    fake_openai.queue(json.dumps(verdict))
    headers = await sign_up(live_api)
    await store_openai_credential(
        live_api,
        headers,
        {"api_key": fake_openai.api_key, "base_url": fake_openai.base_url},
        "openai",
    )
    workflow_id = await create(live_api, headers, example)
    inputs = {"subject": "Export broken", "body": "CSV export gives a 500!", "customer": "Ada"}
    run = await finished(live_api, headers, await start(live_api, headers, workflow_id, **inputs))

    assert run["status"] == "succeeded", run
    assert run["output"]["queue"] == "engineering" and run["output"]["priority"] == "p1"
    assert run["output"]["triage"] == verdict
    sent = fake_openai.requests[0].json()
    assert sent["response_format"]["json_schema"]["name"] == "ticket_triage"
    assert "Customer: Ada (plan: free)" in sent["messages"][-1]["content"]
