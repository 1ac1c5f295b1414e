"""An OpenAI-compatible chat client for the `llm.chat` node, on the official `openai` SDK.

The SDK never retries (`max_retries=0`): Temporal owns retries, so every failure becomes a
`ConnectorError` that says whether a retry can help and how long the service asked to
wait. Requests go through the caller's httpx client (guarded in production), and the API
key and base URL are always passed explicitly, so the SDK never falls back to the worker's
own `OPENAI_*` environment on behalf of a user.
"""

import json
import re
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import httpx
import jsonschema_rs
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from connectors.errors import ConnectorError, one_line
from connectors.http import parse_retry_after
from connectors.netguard import GuardedTransport

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT_SECONDS = 60.0
SNIPPET_CHARS = 300
MAX_SCHEMA_ERRORS = 3

_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
"""429s that mean the account is out of credit: waiting does not help."""
_STATUS_KINDS = {
    400: "LlmBadRequest",
    401: "LlmAuthenticationFailed",
    403: "LlmPermissionDenied",
    404: "LlmNotFound",
    408: "LlmTimeout",
    409: "LlmConflict",
    422: "LlmBadRequest",
    429: "LlmRateLimited",
}
_NO_ENV_HEADERS: dict[str, Any] = {
    "OpenAI-Organization": openai.Omit(),
    "OpenAI-Project": openai.Omit(),
}
"""Drop the organization/project the SDK would read from the worker's environment."""


class UnusableAnswer(ConnectorError):
    """The model answered, but not with the JSON asked for; `text` is what it said."""

    def __init__(self, error: ConnectorError, text: str) -> None:
        super().__init__(
            error.message, retryable=error.retryable, retry_after=error.retry_after, kind=error.kind
        )
        self.text = text


@dataclass(frozen=True)
class OpenAIAccount:
    """Where to call and with which key; the key never shows in a repr."""

    api_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL

    @classmethod
    def from_credential(
        cls, data: Mapping[str, Any], default_base_url: str | None = None
    ) -> "OpenAIAccount":
        """From an `openai` credential's data: its base_url, else the default, else OpenAI."""
        api_key = data.get("api_key")
        if not isinstance(api_key, str) or not api_key:
            raise ConnectorError(
                "the credential has no api_key", retryable=False, kind="LlmAuthenticationFailed"
            )
        base_url = data.get("base_url") or default_base_url or DEFAULT_BASE_URL
        return cls(api_key=api_key, base_url=str(base_url))


@dataclass(frozen=True)
class StructuredOutput:
    schema: dict[str, Any]
    name: str = "output"
    strict: bool = True
    check_answer: bool = True
    """Validate the answer against `schema` here; off for a caller that checks it better."""


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, str]]
    """`{"role", "content"}` pairs, oldest first."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    json_schema: StructuredOutput | None = None
    json_object: bool = False

    @property
    def wants_json(self) -> bool:
        return self.json_object or self.json_schema is not None

    def body(self) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create`, unset options left out."""
        options = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "stop": self.stop,
            "seed": self.seed,
            "response_format": self._response_format(),
        }
        given = {name: value for name, value in options.items() if value is not None}
        return {"model": self.model, "messages": self.messages, **given}

    def _response_format(self) -> dict[str, Any] | None:
        if self.json_schema is not None:
            spec = self.json_schema
            return {
                "type": "json_schema",
                "json_schema": {"name": spec.name, "schema": spec.schema, "strict": spec.strict},
            }
        return {"type": "json_object"} if self.json_object else None


@dataclass(frozen=True)
class ChatAnswer:
    id: str | None
    text: str
    json: Any
    model: str | None
    finish_reason: str | None
    usage: dict[str, int | None]
    refusal: str | None = None

    def as_output(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "json": self.json,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "usage": self.usage,
            "id": self.id,
            "refusal": self.refusal,
        }


class OpenAIChat:
    """Chat completions and model listing against any OpenAI-compatible endpoint.

    One instance serves every credential: a short-lived SDK client is made per call on top
    of the shared httpx client, so the key lives only as long as the call.
    """

    def __init__(
        self, http: httpx.AsyncClient, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._http = http
        self._timeout = timeout

    async def complete(self, account: OpenAIAccount, request: ChatRequest) -> ChatAnswer:
        """One chat completion; with a schema or JSON mode, the answer parsed (and checked)."""
        structured = request.json_schema
        checked = structured is not None and structured.check_answer
        validator = _validator(structured.schema) if structured and checked else None
        async with self._errors(account):
            completion = await self._sdk(account).chat.completions.create(**request.body())
        answer = _answer(completion, account)
        if not request.wants_json:
            return answer
        _require_complete_json(answer, request)
        try:
            parsed = parse_json_answer(answer.text)
            if validator is not None:
                _check_against_schema(validator, parsed)
        except ConnectorError as error:
            raise UnusableAnswer(error, answer.text) from None
        return replace(answer, json=parsed)

    async def list_models(self, account: OpenAIAccount) -> list[str]:
        """The ids of the models the key may use (GET /models)."""
        async with self._errors(account):
            page = await self._sdk(account).models.list()
        return [model.id for model in page.data]

    def _sdk(self, account: OpenAIAccount) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=account.api_key,
            base_url=account.base_url,
            http_client=self._http,
            max_retries=0,
            timeout=self._timeout,
            default_headers=_NO_ENV_HEADERS,
        )

    @asynccontextmanager
    async def _errors(self, account: OpenAIAccount) -> AsyncIterator[None]:
        """Turn the SDK's exceptions into `ConnectorError`s, with the key scrubbed out."""
        try:
            yield
        except ConnectorError:
            raise
        except openai.APIStatusError as error:
            raise _status_error(error, account) from None
        except openai.APITimeoutError:
            raise ConnectorError(
                f"{_where(account)} did not answer within {self._timeout:g}s",
                retryable=True,
                kind="LlmTimeout",
            ) from None
        except openai.APIConnectionError as error:
            _reraise_guard_refusal(error)
            raise _connection_error(error, account) from None
        except openai.OpenAIError as error:
            raise ConnectorError(
                f"{_where(account)}: {_snippet(_scrub(str(error), account))}",
                retryable=False,
                kind="LlmInvalidResponse",
            ) from None


async def test_connection(
    credential: Mapping[str, Any],
    *,
    allowed_hosts: Collection[str] = (),
    default_base_url: str | None = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """List the models the credential's key can use: the cheapest call that proves the key."""
    account = OpenAIAccount.from_credential(credential, default_base_url)
    transport = GuardedTransport(allowed_hosts)
    async with httpx.AsyncClient(
        transport=transport, trust_env=False, timeout=timeout_seconds
    ) as http:
        models = await OpenAIChat(http, timeout=timeout_seconds).list_models(account)
    message = f"Connected to {_where(account)}: {len(models)} model(s) available"
    model = credential.get("model")
    if isinstance(model, str) and model:
        listed = "is" if model in models else "is not"
        message += f"; the credential's model '{model}' {listed} among them"
    return message


def parse_json_answer(text: str) -> Any:
    """The JSON value of an answer, tolerating one surrounding Markdown code fence.

    Servers without native JSON mode often wrap the JSON in ```json … ```.
    """
    candidate = text.strip()
    fenced = re.fullmatch(r"```[A-Za-z0-9_-]*\s*\n(.*?)\n?\s*```", candidate, flags=re.DOTALL)
    if fenced:
        candidate = fenced.group(1)
    try:
        return json.loads(candidate)
    except ValueError as error:
        raise ConnectorError(
            f"the model's answer is not valid JSON ({error}): {_snippet(text)!r}",
            retryable=True,
            kind="LlmInvalidJson",
        ) from None


def _validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for the node's schema; remote `$ref`s are refused, never fetched."""
    try:
        return jsonschema_rs.validator_for(schema, retriever=_refuse_remote_ref)
    except (jsonschema_rs.ValidationError, ValueError) as error:
        raise ConnectorError(
            f"json_schema is not a usable JSON Schema: {_snippet(str(error))}",
            retryable=False,
            kind="LlmInvalidSchema",
        ) from None


def _refuse_remote_ref(uri: str) -> NoReturn:
    raise ValueError(f"remote $ref {uri} is not allowed; put the definition under $defs")


def _check_against_schema(validator: jsonschema_rs.Validator, value: Any) -> None:
    problems = [
        f"at {_pointer(error.instance_path)}: {error.message}"
        for _, error in zip(range(MAX_SCHEMA_ERRORS), validator.iter_errors(value), strict=False)
    ]
    if problems:
        raise ConnectorError(
            "the model's JSON answer does not match json_schema: " + "; ".join(problems),
            retryable=True,
            kind="LlmSchemaMismatch",
        )


def _pointer(path: list[str | int]) -> str:
    return "/" + "/".join(str(part) for part in path) if path else "the root"


def _require_complete_json(answer: ChatAnswer, request: ChatRequest) -> None:
    """Refusals and cut-off answers cannot hold the JSON asked for, and retrying won't help."""
    if answer.refusal:
        raise ConnectorError(
            f"the model refused to answer: {_snippet(answer.refusal)}",
            retryable=False,
            kind="LlmRefusal",
        )
    if answer.finish_reason == "length":
        limit = f"max_tokens={request.max_tokens}" if request.max_tokens else "the model's limit"
        raise ConnectorError(
            f"the JSON answer was cut off at {limit} before it was complete; "
            "raise max_tokens or ask for less",
            retryable=False,
            kind="LlmOutputTruncated",
        )
    if answer.finish_reason == "content_filter":
        raise ConnectorError(
            "the answer was withheld by the server's content filter",
            retryable=False,
            kind="LlmRefusal",
        )


def _answer(completion: Any, account: OpenAIAccount) -> ChatAnswer:
    """The first choice of a completion; the SDK does not validate bodies, so this does."""
    choices = (
        getattr(completion, "choices", None) if isinstance(completion, ChatCompletion) else None
    )
    message = getattr(choices[0], "message", None) if choices else None
    content = getattr(message, "content", None)
    if message is None or not isinstance(content, str | None):
        raise ConnectorError(
            f"{_where(account)} answered without a chat completion message",
            retryable=False,
            kind="LlmInvalidResponse",
        )
    usage = getattr(completion, "usage", None)
    refusal = getattr(message, "refusal", None)
    return ChatAnswer(
        id=completion.id,
        text=content or "",
        json=None,
        model=completion.model,
        finish_reason=getattr(choices[0], "finish_reason", None),
        usage={
            "prompt_tokens": getattr(usage, "prompt_tokens", None),
            "completion_tokens": getattr(usage, "completion_tokens", None),
            "total_tokens": getattr(usage, "total_tokens", None),
        },
        refusal=refusal if isinstance(refusal, str) else None,
    )


def _status_error(error: openai.APIStatusError, account: OpenAIAccount) -> ConnectorError:
    status = error.status_code
    headers = error.response.headers
    detail, code = _error_detail(error.body, account)
    retryable = status >= 500 or status in _RETRYABLE_STATUSES
    if status == 429 and code in _QUOTA_CODES:
        retryable = False
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    parts = [f"{_where(account)} answered {status}"]
    if detail:
        parts.append(f": {detail}")
    if request_id := headers.get("x-request-id"):
        parts.append(f" (request id {request_id})")
    return ConnectorError(
        "".join(parts),
        retryable=retryable,
        retry_after=_retry_after(headers) if retryable else None,
        kind=_STATUS_KINDS.get(status, "LlmServerError" if status >= 500 else "LlmApiError"),
    )


def _error_detail(body: object, account: OpenAIAccount) -> tuple[str, str | None]:
    """The API's `{"error": {"message", "type", "code"}}` as one line, and its code.

    The SDK hands over the inner object when the body has that shape, else the raw body.
    """
    if isinstance(body, Mapping):
        message = _scrub(str(body.get("message") or ""), account)
        code = body.get("code")
        kind = body.get("type")
        labels = ", ".join(
            f"{name} {value}" for name, value in (("type", kind), ("code", code)) if value
        )
        line = f"{_snippet(message)} ({labels})" if labels else _snippet(message)
        return line, str(code) if code else None
    return (_snippet(_scrub(str(body), account)) if body else ""), None


def _retry_after(headers: httpx.Headers | Mapping[str, str]) -> float | None:
    """`retry-after-ms` (OpenAI's, in milliseconds) first, then the standard `Retry-After`."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            value = float(milliseconds) / 1000
        except ValueError:
            value = -1.0
        if 0 <= value < float("inf"):
            return value
    return parse_retry_after(headers.get("retry-after"))


def _reraise_guard_refusal(error: BaseException) -> None:
    """A target the guard refused stays a non-retryable refusal, not a network error."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ConnectorError):
            raise seen from None
        seen = seen.__cause__ or seen.__context__


def _connection_error(error: openai.APIConnectionError, account: OpenAIAccount) -> ConnectorError:
    cause = error.__cause__ or error.__context__
    detail = f"{type(cause).__name__}: {cause}" if cause else str(error)
    return ConnectorError(
        f"cannot reach {_where(account)}: {_snippet(_scrub(detail, account))}",
        retryable=True,
        kind="LlmNetworkError",
    )


def _where(account: OpenAIAccount) -> str:
    """The endpoint without credentials, query or fragment, for messages."""
    try:
        url = httpx.URL(account.base_url)
    except httpx.InvalidURL:
        return "the LLM endpoint"
    return f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path.rstrip('/')}"


_ECHOED_KEY = re.compile(r"(API key provided: )\S*[^\s.]", flags=re.IGNORECASE)


def _scrub(text: str, account: OpenAIAccount) -> str:
    """Servers may echo the key they were sent: OpenAI masks all but its ends, others don't."""
    text = _ECHOED_KEY.sub(r"\1***", text)
    return text.replace(account.api_key, "***") if account.api_key else text


def _snippet(text: str) -> str:
    return one_line(text, SNIPPET_CHARS)
