"""Bad and oversized input, over every operation of the API that takes a JSON body: unknown
fields, malformed JSON, deep nesting and oversized bodies are 4xx, never a 5xx, and a
definition or a run's inputs over their limits are refused up front, naming what is too big
(before, a run too big for Temporal's payload limit was recorded, then answered 503)."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import func, select

from api.limits import MAX_JSON_DEPTH
from core.config import Settings
from core.models import Run
from tests.support.api import app_client, sign_up, simple_definition
from tests.support.fake_openai import FakeOpenAI
from tests.test_api_hooks import hook_path
from workflows.definition import MAX_DEFINITION_BYTES, MAX_NODES, MAX_RUN_DATA_BYTES


@pytest.fixture
def api_settings(api_settings: Settings, fake_openai: FakeOpenAI) -> Settings:
    """With a model configured, so generation validates its body instead of answering 503."""
    return api_settings.model_copy(
        update={
            "openai_api_key": SecretStr(fake_openai.api_key),
            "openai_base_url": fake_openai.base_url,
        }
    )


def json_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path with ids filled in, body schema) of every operation with a JSON body."""
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                filled = path
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        filled = filled.replace(f"{{{parameter['name']}}}", str(uuid.uuid4()))
                found.append((method.upper(), filled, content["application/json"]["schema"]))
    return found


@pytest.fixture
async def admin(api: httpx.AsyncClient) -> dict[str, str]:
    return await sign_up(api)


@pytest.fixture
async def operations(api: httpx.AsyncClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = (await api.get("/openapi.json")).json()
    found = json_operations(spec)
    assert len(found) >= 15, found
    return found


def resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


async def send(
    api: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], content: bytes
) -> httpx.Response:
    return await api.request(
        method, path, content=content, headers={**headers, "Content-Type": "application/json"}
    )


async def test_every_json_body_refuses_an_unknown_field_by_name(
    api: httpx.AsyncClient, admin: dict[str, str], operations: list[tuple[str, str, Any]]
) -> None:
    spec = (await api.get("/openapi.json")).json()
    checked = 0
    for method, path, schema in operations:
        if resolve(schema, spec).get("additionalProperties", True) is not False:
            continue  # a free-form body, such as a webhook delivery
        answer = await send(api, method, path, admin, b'{"zz_unknown": 1}')
        assert answer.status_code == 422, (method, path, answer.text)
        errors = answer.json()["detail"]
        assert {"loc": ["body", "zz_unknown"], "type": "extra_forbidden"}.items() <= {
            **next(e for e in errors if e["loc"][-1] == "zz_unknown")
        }.items(), (method, path, errors)
        checked += 1
    assert checked >= 12


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": ',
        b"\xff\xfe not utf-8",
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"NaN",
    ],
    ids=["truncated", "not_utf8", "too_deep", "recursion_deep", "nan"],
)
async def test_malformed_and_deeply_nested_json_is_4xx_everywhere(
    api: httpx.AsyncClient,
    admin: dict[str, str],
    operations: list[tuple[str, str, Any]],
    content: bytes,
) -> None:
    for method, path, _ in operations:
        answer = await send(api, method, path, admin, content)
        assert 400 <= answer.status_code < 500, (method, path, answer.status_code, answer.text)


@pytest.fixture
async def small_body_api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(update={"api_max_body_bytes": 64 * 1024})
    async with app_client(settings) as client:
        yield client


async def test_a_body_over_the_limit_is_413_declared_or_streamed(
    small_body_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(small_body_api)
    oversized = json.dumps({"definition": simple_definition(description="x" * 70_000)}).encode()

    declared = await send(small_body_api, "POST", "/api/workflows", headers, oversized)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(oversized), 8192):
            yield oversized[start : start + 8192]

    streamed = await small_body_api.post(
        "/api/workflows", content=chunks(), headers={**headers, "Content-Type": "application/json"}
    )
    for answer in (declared, streamed):
        assert answer.status_code == 413, answer.text
    listed = await small_body_api.get("/api/workflows", headers=headers)
    assert listed.json()["items"] == []


async def test_a_definition_too_big_or_with_too_many_nodes_is_refused_at_save(
    api: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    node = {"id": "n", "type": "transform", "params": {"value": "v"}}
    too_many = simple_definition(
        nodes=[{**node, "id": f"n{index}"} for index in range(MAX_NODES + 1)]
    )
    too_big = simple_definition(description="x" * (MAX_DEFINITION_BYTES + 1))

    many = await api.post("/api/workflows", json={"definition": too_many}, headers=admin)
    big = await api.post("/api/workflows", json={"definition": too_big}, headers=admin)

    assert many.status_code == 422, many.text
    assert {"node": None, "field": "nodes"}.items() <= many.json()["detail"][0].items()
    assert str(MAX_NODES) in many.json()["detail"][0]["message"]
    assert big.status_code == 422, big.text
    assert f"at most {MAX_DEFINITION_BYTES // 1024} KB" in big.json()["detail"][0]["message"]


@pytest.mark.parametrize("api_settings", ["postgresql"], indirect=True)
async def test_a_webhook_delivery_over_the_limit_is_refused_and_nothing_is_recorded(
    live_api: httpx.AsyncClient,
) -> None:
    """The delivery travels in the run's inputs (`inputs.webhook.body`); the run's own start
    is covered in test_api_runs."""
    headers = await sign_up(live_api)
    hook = await hook_path(live_api, headers, simple_definition(trigger={"type": "webhook"}))

    delivered = await live_api.post(hook, json={"payload": "x" * (MAX_RUN_DATA_BYTES + 1)})

    assert delivered.status_code == 422, delivered.text
    assert "pass large data by URL" in delivered.json()["detail"][0]["msg"]
    app = live_api._transport.app  # type: ignore[attr-defined]
    async with app.state.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Run))).one() == 0
