"""Node types of the llm connector: llm.chat (OpenAI-compatible chat completions)."""

import json
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from workflows.node_type import NodeType, Params

MAX_PROMPT_CHARS = 1_000_000
MAX_MESSAGES = 500


class ChatMessage(Params):
    role: Literal["system", "developer", "user", "assistant"]
    content: str = Field(max_length=MAX_PROMPT_CHARS)


class LlmChatParams(Params):
    prompt: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="The user message. With `messages`, it is sent as the last user turn.",
    )
    system: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_PROMPT_CHARS,
        description="Instructions sent first, as the system message.",
    )
    messages: list[ChatMessage] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MESSAGES,
        description='A multi-turn conversation: [{"role": "user"|"assistant"|"system"|'
        '"developer", "content": "..."}], oldest first.',
    )
    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="The model; by default the credential's model, else the server default.",
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, description="Sampling temperature; lower is more focused."
    )
    top_p: float | None = Field(default=None, ge=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, description="The most tokens the answer may have."
    )
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    stop: list[str] | None = Field(
        default=None, min_length=1, max_length=4, description="Up to 4 stop sequences."
    )
    seed: int | None = Field(default=None, description="Best-effort deterministic sampling.")
    json_output: bool = Field(
        default=False,
        description="JSON mode without a schema (response_format json_object); the prompt "
        "must ask for JSON. The parsed answer is in output.json.",
    )
    json_schema: dict[str, Any] | None = Field(
        default=None,
        description="Structured output: a JSON Schema (root type object) the answer must "
        "match. The parsed, validated answer is in output.json.",
    )
    schema_name: str = Field(
        default="output",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The name given to json_schema in the request.",
    )
    strict: bool = Field(
        default=True,
        description="Ask the server to enforce json_schema exactly (OpenAI strict mode: every "
        "property required, additionalProperties false). Turn off for servers without it.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.prompt is None and self.messages is None:
            raise ValueError("give prompt, messages or both")
        if self.json_output and self.json_schema is not None:
            raise ValueError("give json_output or json_schema, not both")
        if self.json_schema is not None and self.json_schema.get("type") != "object":
            raise ValueError('json_schema must have "type": "object" at its root')
        return self


SAMPLE_TEXT = "This is a sample answer from the model."
SAMPLE_OUTPUT: dict[str, Any] = {
    "text": SAMPLE_TEXT,
    "json": None,
    "model": "gpt-4o",
    "finish_reason": "stop",
    "usage": {"prompt_tokens": 24, "completion_tokens": 9, "total_tokens": 33},
    "id": "chatcmpl-sample",
    "refusal": None,
}
_MAX_SAMPLE_DEPTH = 16


def _sample(params: dict[str, Any]) -> dict[str, Any]:
    """An answer of the shape the params ask for: JSON that fits the schema when there is one."""
    chat = LlmChatParams.model_validate(params)
    answer: Any = None
    if chat.json_schema is not None:
        answer = schema_sample(chat.json_schema, chat.json_schema)
    elif chat.json_output:
        answer = {}
    text = SAMPLE_TEXT if answer is None else json.dumps(answer)
    sent = [chat.system, chat.prompt, *(message.content for message in chat.messages or [])]
    prompt_tokens = max(1, sum(len(part) for part in sent if part) // 4)
    completion_tokens = max(1, len(text) // 4)
    return {
        **SAMPLE_OUTPUT,
        "text": text,
        "json": answer,
        "model": chat.model or SAMPLE_OUTPUT["model"],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def schema_sample(schema: Any, root: dict[str, Any], depth: int = 0) -> Any:
    """A small value that matches a JSON Schema: every property, one item per array."""
    if not isinstance(schema, dict) or depth > _MAX_SAMPLE_DEPTH:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return schema_sample(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for combined in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(combined), list) and schema[combined]:
            return schema_sample(schema[combined][0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {name: schema_sample(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [schema_sample(schema.get("items"), root, depth + 1)]
    if kind in ("integer", "number"):
        minimum = schema.get("minimum")
        return minimum if isinstance(minimum, int | float) else 0
    return {"string": "sample", "boolean": False}.get(str(kind))


NODE_TYPES: list[NodeType] = [
    NodeType(
        type="llm.chat",
        title="LLM: chat",
        description="Ask an OpenAI-compatible chat model (OpenAI, Azure-style proxies, "
        "Ollama, vLLM, Groq, …) with a prompt or a conversation, optionally requiring a JSON "
        "answer that matches a schema. Rate limits and server errors are retried, honouring "
        "Retry-After; bad requests, auth errors, refusals and truncated JSON fail at once; a "
        "malformed or non-conforming JSON answer is retried up to 3 attempts in all.",
        params_model=LlmChatParams,
        runs_in="activity",
        credential_kinds=("openai",),
        credential_required=True,
        output_description="{text, json, model, finish_reason, usage: {prompt_tokens, "
        "completion_tokens, total_tokens}, id, refusal}; json is the parsed answer with "
        "json_schema or json_output, else null.",
        sample_output=SAMPLE_OUTPUT,
        sample_from=_sample,
    )
]
