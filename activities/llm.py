"""The activities of llm.chat against OpenAI-compatible endpoints."""

import httpx
from temporalio import activity

from activities.credentials import CredentialStore, ResolvedCredential
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.errors import ConnectorError
from connectors.llm import ChatRequest, OpenAIAccount, OpenAIChat, StructuredOutput
from connectors.netguard import GuardedTransport
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.llm import LlmChatParams

MAX_ANSWER_ATTEMPTS = 3
"""Attempts (in all) at getting JSON that parses and matches the schema.

Sampling differs from one call to the next, so a malformed answer is worth asking again,
but each try costs tokens and a model that cannot follow the schema keeps failing: past
this bound the failure is final, whatever the node's retry policy allows.
"""
_ANSWER_KINDS = frozenset({"LlmInvalidJson", "LlmSchemaMismatch"})


class LlmActivities:
    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._settings = settings
        self._credentials = credentials
        timeout = settings.connector_timeout_seconds
        self._http = httpx.AsyncClient(
            transport=GuardedTransport(settings.http_allowed_hosts),
            trust_env=False,
            timeout=timeout,
        )
        self._chat = OpenAIChat(self._http, timeout=timeout)

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {"llm.chat": self.chat}

    async def aclose(self) -> None:
        """Release connections."""
        await self._http.aclose()

    @activity.defn(name="llm.chat")
    async def chat(self, node: NodeInput) -> NodeResult:
        """One chat completion; output `{text, json, model, finish_reason, usage, id, refusal}`."""
        params = validate_params(LlmChatParams, node.params)
        credential = await self._credentials.resolve_for(node)
        attempt = activity.info().attempt
        async with heartbeating():
            with connector_errors():
                account = OpenAIAccount.from_credential(
                    credential.data, self._settings.openai_base_url
                )
                request = chat_request(params, self._model(params, credential))
                try:
                    answer = await self._chat.complete(account, request)
                except ConnectorError as error:
                    if _out_of_answer_attempts(error, attempt):
                        raise _final(error, attempt) from None
                    raise
        return NodeResult(output=answer.as_output(), attempt=attempt)

    def _model(self, params: LlmChatParams, credential: ResolvedCredential) -> str:
        """The node's model, else the credential's, else the deployment's default."""
        return params.model or credential.data.get("model") or self._settings.openai_model


def chat_request(params: LlmChatParams, model: str) -> ChatRequest:
    messages = [{"role": "system", "content": params.system}] if params.system else []
    messages += [message.model_dump() for message in params.messages or []]
    if params.prompt is not None:
        messages.append({"role": "user", "content": params.prompt})
    schema = params.json_schema
    return ChatRequest(
        model=model,
        messages=messages,
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        frequency_penalty=params.frequency_penalty,
        presence_penalty=params.presence_penalty,
        stop=params.stop,
        seed=params.seed,
        json_schema=StructuredOutput(schema, params.schema_name, params.strict)
        if schema is not None
        else None,
        json_object=params.json_output,
    )


def _out_of_answer_attempts(error: ConnectorError, attempt: int) -> bool:
    return error.kind in _ANSWER_KINDS and attempt >= MAX_ANSWER_ATTEMPTS


def _final(error: ConnectorError, attempt: int) -> ConnectorError:
    """A bad JSON answer stops being retryable after `MAX_ANSWER_ATTEMPTS` attempts."""
    return ConnectorError(
        f"{error.message} (attempt {attempt}; giving up after {MAX_ANSWER_ATTEMPTS} answers)",
        retryable=False,
        kind=error.kind,
    )
