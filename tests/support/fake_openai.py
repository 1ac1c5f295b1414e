"""Fixtures: a local openai server speaking the service's documented wire protocol.

A scriptable OpenAI-compatible endpoint on 127.0.0.1 (`base_url` ends in `/v1`):

    fake_openai.queue("Paris", rate_limited(retry_after=1), '{"city": "Paris"}')
    ... call with base_url=fake_openai.base_url, api_key=fake_openai.api_key ...
    sent = fake_openai.requests[0].json()        # every chat request, in order

`POST /v1/chat/completions` checks what the real API checks (bearer key, model, messages,
sampling ranges, `response_format` including strict-schema rules and json_object's "the
messages must mention JSON"), then answers the next queued reply: a string (or `Answer`)
becomes a `chat.completion` object with usage, an `ApiError` an OpenAI error body
`{"error": {"message", "type", "param", "code"}}` with its headers. With nothing queued it
answers `default_reply`. `GET /v1/models` lists `models`. Unknown paths answer 404 like
the API does, and a wrong key answers 401 with the key masked, as OpenAI masks it.
"""

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.support.threaded_http import RecordedRequest, ThreadedHttpServer

DEFAULT_KEY = "sk-test-fake-openai-key-0000"


@dataclass(frozen=True)
class Answer:
    """A successful completion; `content=None` with `refusal` set is a structured-output refusal."""

    content: str | None
    finish_reason: str = "stop"
    refusal: str | None = None
    model: str | None = None
    """The model the answer claims; by default the one requested."""
    delay: float = 0.0
    """Seconds to think before answering."""


@dataclass(frozen=True)
class ApiError:
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Reply = str | Answer | ApiError


def rate_limited(
    retry_after: float | None = 1, *, retry_after_ms: int | None = None, model: str = "gpt-4o"
) -> ApiError:
    """A 429 as OpenAI sends it when a rate limit is hit."""
    headers = {"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0"}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    message = f"Rate limit reached for {model} on requests per min (RPM): Limit 500, Used 500."
    return ApiError(429, message, type="requests", code="rate_limit_exceeded", headers=headers)


def quota_exceeded() -> ApiError:
    message = "You exceeded your current quota, please check your plan and billing details."
    return ApiError(429, message, type="insufficient_quota", code="insufficient_quota")


def server_error(status: int = 500) -> ApiError:
    message = "The server had an error while processing your request. Sorry about that!"
    return ApiError(status, message, type="server_error")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


@dataclass
class _State:
    api_key: str = DEFAULT_KEY
    models: list[str] = field(default_factory=lambda: ["gpt-4o", "gpt-4o-mini"])
    default_reply: Reply = "This is the fake model's answer."
    echo_full_key: bool = False
    """Echo a wrong key unmasked in 401 messages, as some OpenAI-compatible servers do."""
    replies: list[Reply] = field(default_factory=list)
    calls: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=itertools.count)


class _Refused(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        call = RecordedRequest(self.command, path, headers, body, time.monotonic())
        route = (self.command, path)
        if route == ("POST", "/v1/chat/completions"):
            with self.state.lock:
                self.state.calls.append(call)
        try:
            self._authenticate(headers)
            if route == ("GET", "/v1/models"):
                self._send(200, self._models())
            elif route == ("POST", "/v1/chat/completions"):
                self._send(200, self._complete(body))
            else:
                message = f"Invalid URL ({self.command} {path})"
                raise _Refused(ApiError(404, message))
        except _Refused as refused:
            self._send_error(refused.error)

    def _authenticate(self, headers: dict[str, str]) -> None:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer "):
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            raise _Refused(ApiError(401, message))
        key = authorization.removeprefix("Bearer ")
        if key != self.state.api_key:
            shown = key if self.state.echo_full_key else f"{key[:3]}{'*' * 8}{key[-4:]}"
            message = (
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
            raise _Refused(ApiError(401, message, code="invalid_api_key"))

    def _models(self) -> dict[str, Any]:
        data = [
            {"id": model, "object": "model", "created": 1_715_367_049, "owned_by": "system"}
            for model in self.state.models
        ]
        return {"object": "list", "data": data}

    def _complete(self, raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw)
        except ValueError:
            unreadable = bad_request("We could not parse the JSON body of your request.")
            raise _Refused(unreadable) from None
        if not isinstance(body, dict):
            raise _Refused(bad_request("The request body must be a JSON object."))
        model = _check_model(body, self.state.models)
        messages = _check_messages(body)
        _check_sampling(body)
        _check_response_format(body.get("response_format"), messages)
        with self.state.lock:
            reply = self.state.replies.pop(0) if self.state.replies else self.state.default_reply
            number = next(self.state.ids)
        if isinstance(reply, ApiError):
            raise _Refused(reply)
        answer = Answer(reply) if isinstance(reply, str) else reply
        if answer.delay:
            time.sleep(answer.delay)
        return _completion(number, answer, model, messages)

    def _send_error(self, error: ApiError) -> None:
        body = {
            "error": {
                "message": error.message,
                "type": error.type,
                "param": error.param,
                "code": error.code,
            }
        }
        self._send(error.status, body, error.headers)

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.send_header("x-request-id", f"req_{time.monotonic_ns():x}")
        self.send_header("openai-processing-ms", "12")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)


def _check_model(body: dict[str, Any], models: list[str]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _Refused(bad_request("you must provide a model parameter", param="model"))
    if model not in models:
        message = f"The model `{model}` does not exist or you do not have access to it."
        raise _Refused(ApiError(404, message, code="model_not_found"))
    return model


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def _check_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _Refused(bad_request("Missing required parameter: 'messages'.", param="messages"))
    if not messages:
        message = "Invalid 'messages': empty array. Expected an array with minimum length 1."
        raise _Refused(bad_request(message, param="messages", code="empty_array"))
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            text = f"Invalid value for 'messages[{index}].role'."
            raise _Refused(bad_request(text, param=f"messages[{index}].role"))
        if not isinstance(message.get("content"), str):
            text = f"Invalid type for 'messages[{index}].content': expected a string."
            raise _Refused(bad_request(text, param=f"messages[{index}].content"))
    return messages


def _check_sampling(body: dict[str, Any]) -> None:
    ranges = {"temperature": (0, 2), "top_p": (0, 1), "frequency_penalty": (-2, 2)}
    for name, (low, high) in ranges.items():
        value = body.get(name)
        if value is not None and not low <= value <= high:
            message = f"Invalid '{name}': decimal above maximum value. Expected a value <= {high}."
            raise _Refused(bad_request(message, param=name, code="decimal_above_max_value"))
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise _Refused(bad_request("Invalid 'max_tokens': must be at least 1.", "max_tokens"))


def _check_response_format(spec: Any, messages: list[dict[str, Any]]) -> None:
    if spec is None:
        return
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        if not any("json" in str(message.get("content", "")).lower() for message in messages):
            message = (
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'."
            )
            raise _Refused(bad_request(message, param="messages"))
        return
    if kind != "json_schema":
        raise _Refused(
            bad_request("Invalid value for 'response_format.type'.", "response_format.type")
        )
    inner = spec.get("json_schema")
    if not isinstance(inner, dict) or not isinstance(inner.get("name"), str):
        message = "Missing required parameter: 'response_format.json_schema.name'."
        raise _Refused(bad_request(message, param="response_format.json_schema.name"))
    schema = inner.get("schema")
    if not isinstance(schema, dict):
        raise _Refused(bad_request("Invalid 'response_format.json_schema.schema'."))
    if inner.get("strict"):
        problem = _strict_problem(schema, ())
        if problem:
            message = f"Invalid schema for response_format '{inner['name']}': {problem}"
            raise _Refused(bad_request(message, "response_format", "invalid_json_schema"))


def _strict_problem(schema: Any, context: tuple[str, ...]) -> str | None:
    """The first rule of OpenAI's strict mode the schema breaks, worded like the API."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        where = f"In context={context}"
        if schema.get("additionalProperties") is not False:
            return f"{where}, 'additionalProperties' is required to be supplied and to be false."
        properties = schema.get("properties", {})
        missing = [name for name in properties if name not in schema.get("required", [])]
        if missing:
            return f"{where}, 'required' is required to include every key; missing '{missing[0]}'."
        for name, sub in properties.items():
            if problem := _strict_problem(sub, (*context, "properties", name)):
                return problem
    children = [schema.get("items"), *schema.get("anyOf", []), *schema.get("$defs", {}).values()]
    for sub in children:
        if problem := _strict_problem(sub, context):
            return problem
    return None


def _tokens(text: str) -> int:
    return max(1, len(text.split()))


def _completion(
    number: int, answer: Answer, model: str, messages: list[dict[str, Any]]
) -> dict[str, Any]:
    prompt_tokens = sum(_tokens(str(message["content"])) for message in messages)
    completion_tokens = _tokens(answer.content or answer.refusal or "")
    return {
        "id": f"chatcmpl-fake{number:06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model or model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": answer.content,
                    "refusal": answer.refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    }


class FakeOpenAI:
    """An OpenAI-compatible server on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self._state = _State()
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._http = ThreadedHttpServer(handler)

    @property
    def base_url(self) -> str:
        """What a credential's base_url (or OPENAI_BASE_URL) is set to."""
        return f"{self._http.base_url}/v1"

    @property
    def api_key(self) -> str:
        return self._state.api_key

    @api_key.setter
    def api_key(self, value: str) -> None:
        self._state.api_key = value

    @property
    def models(self) -> list[str]:
        return self._state.models

    @models.setter
    def models(self, value: list[str]) -> None:
        self._state.models = list(value)

    @property
    def echo_full_key(self) -> bool:
        return self._state.echo_full_key

    @echo_full_key.setter
    def echo_full_key(self, value: bool) -> None:
        self._state.echo_full_key = value

    def queue(self, *replies: Reply) -> None:
        """Answer the next chat requests with these, in order, then `default_reply`."""
        with self._state.lock:
            self._state.replies.extend(replies)

    def set_default_reply(self, reply: Reply) -> None:
        with self._state.lock:
            self._state.default_reply = reply

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat-completion requests received (checked or not), oldest first."""
        with self._state.lock:
            return list(self._state.calls)

    @property
    def pending(self) -> int:
        with self._state.lock:
            return len(self._state.replies)

    def reset(self) -> None:
        fresh = _State()
        with self._state.lock:
            for name in ("api_key", "models", "default_reply", "echo_full_key", "ids"):
                setattr(self._state, name, getattr(fresh, name))
            self._state.replies.clear()
            self._state.calls.clear()

    def start(self) -> "FakeOpenAI":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The session's fake OpenAI server, with nothing queued, nothing recorded, default key."""
    fake_openai_server.reset()
    return fake_openai_server
