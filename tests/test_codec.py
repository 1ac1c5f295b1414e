"""Payload encryption: with PAYLOAD_ENCRYPTION on, Temporal stores only ciphertext of what
runs carry, while Flowpilot shows the run as before, and the codec endpoint opens payloads
for signed-in users and for the Temporal Web UI's origin, and no other."""

import base64
import contextlib
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.deps import CODEC_COOKIE
from core.codec import (
    ChainedCodec,
    EncryptionCodec,
    LargePayloadCodec,
    PayloadDecryptError,
    codec_for,
    data_converter,
    key_id,
    payload_key,
)
from core.config import Settings
from core.secrets import derive_key
from core.temporal import connect
from tests.support.api import POSTGRES_URL, app_client, reset_postgres, sign_up
from tests.support.canary import readable
from tests.support.local_http import LocalHttpServer
from tests.support.runs import definition, eventually, start_run
from tests.support.stack import Flowpilot, flowpilot_stack, temporal_id
from worker import create_worker
from workflows.dag import DagWorkflow, RunInput
from workflows.definition import validate_definition

UI_ORIGIN = "http://temporal-ui.test:8233"
OTHER_ORIGIN = "http://elsewhere.test"
REDIS_URL = "redis://127.0.0.1:6379/12"
ENCRYPTED_MARK = base64.b64encode(b"binary/encrypted").decode()


@pytest.fixture
def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


def plain_payload(value: Any) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


def as_json(payload: Payload) -> dict[str, Any]:
    """A payload as the codec protocol carries it (protobuf JSON)."""
    return {
        "metadata": {
            name: base64.b64encode(value).decode() for name, value in payload.metadata.items()
        },
        "data": base64.b64encode(payload.data).decode(),
    }


# -- the codec ------------------------------------------------------------------------------


async def test_a_payload_round_trips_sealed_with_a_fresh_nonce(canary: str) -> None:
    codec = EncryptionCodec(payload_key(b"instance secret"))
    original = plain_payload({"note": canary})

    first, second = await codec.encode([original, original])

    assert first.metadata["encoding"] == b"binary/encrypted"
    assert first.metadata["encryption-key-id"] == codec.key_id.encode()
    assert canary.encode() not in first.SerializeToString()
    assert first.data != second.data, "every payload gets its own nonce"
    assert await codec.decode([first, second]) == [original, original]


async def test_payloads_that_are_not_encrypted_pass_through_decode(canary: str) -> None:
    codec = EncryptionCodec(payload_key(b"instance secret"))
    plaintext = [plain_payload(canary), Payload(metadata={"encoding": b"binary/null"})]

    assert await codec.decode(plaintext) == plaintext


async def test_a_payload_sealed_under_another_secret_fails_clearly(canary: str) -> None:
    sealed = await EncryptionCodec(payload_key(b"old secret")).encode([plain_payload(canary)])

    with pytest.raises(PayloadDecryptError, match="FLOWPILOT_SECRET_KEY differs"):
        await EncryptionCodec(payload_key(b"new secret")).decode(sealed)


async def test_a_tampered_or_relabelled_payload_fails_clearly(canary: str) -> None:
    codec = EncryptionCodec(payload_key(b"instance secret"))
    [sealed] = await codec.encode([plain_payload(canary)])
    tampered = Payload()
    tampered.CopyFrom(sealed)
    tampered.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    truncated = Payload(metadata=sealed.metadata, data=sealed.data[:20])

    for broken in (tampered, truncated):
        with pytest.raises(PayloadDecryptError):
            await codec.decode([broken])


def test_the_payload_key_serves_no_other_purpose() -> None:
    secret = b"instance secret"
    key = payload_key(secret)

    assert len(key) == 32
    assert key not in (derive_key(secret, "credentials"), derive_key(secret, "jwt"))
    assert key_id(key) != key.hex()[:16], "the key id is a fingerprint, not a piece of the key"


def test_the_converter_encrypts_only_when_payload_encryption_is_on(tmp_path: Path) -> None:
    """Large payloads go to the store either way; encryption comes first when it is on, so
    the store holds ciphertext."""
    off = data_converter(Settings(data_dir=tmp_path))
    on = data_converter(Settings(data_dir=tmp_path, payload_encryption=True))

    assert isinstance(off.payload_codec, LargePayloadCodec)
    assert off.failure_converter_class is pydantic_data_converter.failure_converter_class
    assert isinstance(on.payload_codec, ChainedCodec)
    assert [type(codec) for codec in on.payload_codec.codecs] == [
        EncryptionCodec,
        LargePayloadCodec,
    ]
    for converter in (off, on):
        assert converter.payload_converter_class is pydantic_data_converter.payload_converter_class


# -- the codec endpoint, in process -----------------------------------------------------------


def endpoint_settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        data_dir=tmp_path,
        flowpilot_secret_key=secrets.token_urlsafe(32),
        temporal_ui_url=UI_ORIGIN + "/",
        cors_origins=[OTHER_ORIGIN],
        redis_url=None,
        payload_encryption=True,
    ).model_copy(update=changes)


async def test_the_codec_endpoint_opens_payloads_for_any_signed_in_user(
    tmp_path: Path, canary: str
) -> None:
    settings = endpoint_settings(tmp_path)
    [sealed] = await codec_for(settings).encode([plain_payload(canary)])
    body = {"payloads": [as_json(sealed)]}
    async with app_client(settings) as api:
        assert (await api.post("/api/codec/decode", json=body)).status_code == 401
        refused = await api.post(
            "/api/codec/decode", json=body, headers={"Authorization": "Bearer not-a-token"}
        )
        assert refused.status_code == 401

        admin = await sign_up(api)
        viewer = await sign_up(api)
        changed = await api.patch(
            f"/api/users/{(await api.get('/api/auth/me', headers=viewer)).json()['id']}",
            json={"role": "viewer"},
            headers=admin,
        )
        assert changed.status_code == 200, changed.text
        key = (await api.post("/api/api-keys", json={"name": "codec"}, headers=viewer)).json()
        for headers in (viewer, {"Authorization": f"Bearer {key['key']}"}):
            answer = await api.post(
                "/api/codec/decode", json=body, headers={**headers, "X-Namespace": "default"}
            )
            assert answer.status_code == 200, answer.text
            [decoded] = answer.json()["payloads"]
            assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"
            assert json.loads(base64.b64decode(decoded["data"])) == canary

        encoded = await api.post(
            "/api/codec/encode", json={"payloads": [as_json(plain_payload(canary))]}, headers=admin
        )
        assert encoded.status_code == 200, encoded.text
        [sealed_again] = encoded.json()["payloads"]
        assert sealed_again["metadata"]["encoding"] == ENCRYPTED_MARK
        assert canary not in json.dumps(sealed_again)


async def test_without_encryption_the_endpoint_returns_plain_payloads_as_they_are(
    tmp_path: Path, canary: str
) -> None:
    settings = endpoint_settings(tmp_path, payload_encryption=False)
    body = {"payloads": [as_json(plain_payload(canary)), as_json(Payload())]}
    async with app_client(settings) as api:
        headers = await sign_up(api)
        for path in ("/api/codec/decode", "/api/codec/encode"):
            answer = await api.post(path, json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            assert answer.json() == {
                "payloads": [body["payloads"][0], {"metadata": {}, "data": ""}]
            }


async def test_the_codec_endpoint_answers_cors_for_the_temporal_ui_origin_only(
    tmp_path: Path,
) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    asks = {"Access-Control-Request-Headers": "authorization,content-type,x-namespace"}
    async with app_client(endpoint_settings(tmp_path)) as api:
        for path in ("/api/codec/decode", "/api/codec/encode"):
            allowed = await api.options(path, headers={"Origin": UI_ORIGIN, **preflight, **asks})
            assert allowed.status_code == 204
            assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
            assert allowed.headers["access-control-allow-methods"] == "POST"
            granted = allowed.headers["access-control-allow-headers"].split(", ")
            assert {"authorization", "content-type", "x-namespace"} <= set(granted)

            # CORS_ORIGINS admits OTHER_ORIGIN elsewhere in the API, never here.
            other = await api.options(path, headers={"Origin": OTHER_ORIGIN, **preflight})
            assert other.status_code == 403
            assert "access-control-allow-origin" not in other.headers

        headers = await sign_up(api)
        body = {"payloads": []}
        from_ui = await api.post(
            "/api/codec/decode", json=body, headers={**headers, "Origin": UI_ORIGIN}
        )
        assert from_ui.status_code == 200
        assert from_ui.headers["access-control-allow-origin"] == UI_ORIGIN
        from_other = await api.post(
            "/api/codec/decode", json=body, headers={**headers, "Origin": OTHER_ORIGIN}
        )
        assert "access-control-allow-origin" not in from_other.headers
        elsewhere = await api.get("/api/auth/me", headers={**headers, "Origin": OTHER_ORIGIN})
        assert elsewhere.headers["access-control-allow-origin"] == OTHER_ORIGIN
        api.cookies.clear()  # signing in left the codec cookie in this client
        unauthenticated = await api.post(
            "/api/codec/decode", json=body, headers={"Origin": UI_ORIGIN}
        )
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["access-control-allow-origin"] == UI_ORIGIN


async def test_malformed_codec_bodies_are_refused_with_4xx(tmp_path: Path, canary: str) -> None:
    settings = endpoint_settings(tmp_path)
    [sealed] = await codec_for(settings).encode([plain_payload(canary)])
    [foreign] = await EncryptionCodec(payload_key(b"another instance")).encode(
        [plain_payload(canary)]
    )
    forged = as_json(sealed)
    forged["data"] = base64.b64encode(b"\x00" * 40).decode()
    bad_bodies: list[tuple[bytes, int]] = [
        (b"", 400),
        (b"{not json", 400),
        (b"[]", 422),
        (b"{}", 422),
        (b'{"payloads": {}}', 422),
        (b'{"payloads": [1]}', 422),
        (b'{"payloads": [{"metadata": [], "data": ""}]}', 422),
        (b'{"payloads": [{"metadata": {"encoding": 5}, "data": ""}]}', 422),
        (b'{"payloads": [{"metadata": {}, "data": "***"}]}', 400),
        (json.dumps({"payloads": [{"data": ""}] * 1001}).encode(), 422),
        (json.dumps({"payloads": [forged]}).encode(), 400),
        (json.dumps({"payloads": [as_json(foreign)]}).encode(), 400),
    ]
    async with app_client(settings) as api:
        headers = {**(await sign_up(api)), "Content-Type": "application/json"}
        for path in ("/api/codec/decode", "/api/codec/encode"):
            for body, status in bad_bodies:
                if path.endswith("encode") and status == 400 and body.startswith(b'{"payloads'):
                    continue  # sealed payloads are only wrong to open, not to seal again
                answer = await api.post(path, content=body, headers=headers)
                assert answer.status_code == status, (path, body[:80], answer.text)
                assert "detail" in answer.json()
        foreign_answer = await api.post(
            "/api/codec/decode", json={"payloads": [as_json(foreign)]}, headers=headers
        )
        assert "FLOWPILOT_SECRET_KEY differs" in foreign_answer.json()["detail"]

        huge = b'{"payloads": [{"data": "' + b"A" * (9 * 1024 * 1024) + b'"}]}'
        declared = await api.post("/api/codec/decode", content=huge, headers=headers)
        assert declared.status_code == 413

        async def streamed() -> AsyncIterator[bytes]:
            for start in range(0, len(huge), 1 << 20):
                yield huge[start : start + (1 << 20)]

        chunked = await api.post("/api/codec/decode", content=streamed(), headers=headers)
        assert chunked.status_code == 413


# -- runs on Temporal: switching encryption on and off with runs in flight --------------------


async def encrypting_client(temporal_env: WorkflowEnvironment, settings: Settings) -> Client:
    address = temporal_env.client.service_client.config.target_host
    return await connect(
        settings.model_copy(update={"temporal_address": address, "payload_encryption": True})
    )


def echo_definition(canary: str) -> dict[str, Any]:
    return definition(
        {"id": "say", "type": "transform", "params": {"value": f"{canary} {{{{ inputs.n }}}}"}},
        inputs={"n": {"type": "integer", "default": 1}},
        output="{{ nodes.say.output }}",
    )


async def test_turning_encryption_on_lets_runs_in_flight_finish(
    temporal_env: WorkflowEnvironment, client: Client, settings: Settings, canary: str
) -> None:
    # Started by a process without the codec; no worker polls yet, so the run waits.
    started = await start_run(client, settings, echo_definition(canary))
    encrypting = await encrypting_client(temporal_env, settings)

    async with create_worker(encrypting, settings):
        result = await encrypting.get_workflow_handle_for(DagWorkflow.run, started.id).result()

    assert result.status == "succeeded"
    assert result.output == f"{canary} 1"
    events = [event async for event in started.fetch_history_events()]
    first, last = events[0], events[-1]
    assert first.workflow_execution_started_event_attributes.input.payloads[0].metadata[
        "encoding"
    ] == (b"json/plain")
    completed = last.workflow_execution_completed_event_attributes.result.payloads[0]
    assert completed.metadata["encoding"] == b"binary/encrypted"


async def test_turning_encryption_off_strands_encrypted_runs(
    temporal_env: WorkflowEnvironment, client: Client, settings: Settings, canary: str
) -> None:
    """Why the README says to keep the codec while encrypted histories remain."""
    encrypting = await encrypting_client(temporal_env, settings)
    checked = validate_definition(echo_definition(canary))
    handle = await encrypting.start_workflow(
        DagWorkflow.run,
        RunInput(definition=checked, inputs={"n": 1}),
        id=f"run-{uuid.uuid4().hex[:12]}",
        task_queue=settings.temporal_task_queue,
    )
    try:
        async with create_worker(client, settings):  # a worker without the codec

            async def event_types() -> set[int]:
                return {event.event_type async for event in handle.fetch_history_events()}

            types = await eventually(
                event_types, lambda seen: EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED in seen
            )
        assert EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED not in types
    finally:
        await handle.terminate()


# -- the real thing: API and worker processes on PostgreSQL, Redis and Temporal ---------------


@contextlib.asynccontextmanager
async def flowpilot(
    temporal_address: str, logs: Path, *, encrypted: bool
) -> AsyncIterator[Flowpilot]:
    env = {
        "REDIS_URL": REDIS_URL,
        "TEMPORAL_UI_URL": UI_ORIGIN,
        "PAYLOAD_ENCRYPTION": "true" if encrypted else "false",
    }
    async with flowpilot_stack(temporal_address, logs, env) as running:
        yield running


@pytest.fixture(scope="module")
async def database() -> str:
    await reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture(scope="module")
async def encrypted(
    temporal_env: WorkflowEnvironment, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Flowpilot]:
    address = temporal_env.client.service_client.config.target_host
    async with flowpilot(address, tmp_path_factory.mktemp("encrypted"), encrypted=True) as running:
        yield running


@pytest.fixture(scope="module")
async def unencrypted(
    temporal_env: WorkflowEnvironment, database: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Flowpilot]:
    address = temporal_env.client.service_client.config.target_host
    async with flowpilot(address, tmp_path_factory.mktemp("plain"), encrypted=False) as running:
        yield running


def canary_workflow(local_http: LocalHttpServer, canary: str) -> dict[str, Any]:
    """The canary in a node's params, the run's inputs, an activity's output and an error."""
    local_http.route("/echo", [(200, {"echo": canary})])
    local_http.route("/refuse", [(400, f"refused: {canary}")])
    return {
        "schema": "flowpilot/v1",
        "name": "Canary",
        "inputs": {"note": {"type": "string"}},
        "nodes": [
            {
                "id": "fetch",
                "type": "http.request",
                "params": {
                    "url": local_http.url("/echo"),
                    "query": {"note": "{{ inputs.note }}"},
                    "headers": {"X-Canary": canary},
                },
            },
            {
                "id": "complain",
                "type": "http.request",
                "on_error": "continue",
                "params": {"url": local_http.url("/refuse")},
            },
            {
                "id": "report",
                "type": "transform",
                "needs": ["fetch", "complain"],
                "params": {"value": "{{ nodes.fetch.output.body.echo }}"},
            },
        ],
        "output": "{{ nodes.report.output }}",
    }


async def test_an_encrypted_run_shows_in_flowpilot_and_nowhere_in_temporal_history(
    encrypted: Flowpilot, local_http: LocalHttpServer, canary: str
) -> None:
    run = await encrypted.run_workflow(canary_workflow(local_http, canary), {"note": canary})

    assert run["status"] == "succeeded", run
    assert run["output"] == canary
    nodes = {node["node_id"]: node for node in run["nodes"]}
    assert nodes["fetch"]["output"]["body"] == {"echo": canary}
    assert canary in nodes["complain"]["error"]
    assert local_http.requests("/echo")[0].headers["x-canary"] == canary

    history = await encrypted.temporal("workflow", "show", "--workflow-id", temporal_id(run))
    assert ENCRYPTED_MARK in history
    assert not readable(history, canary)


async def test_without_encryption_temporal_history_shows_the_same_values(
    unencrypted: Flowpilot, local_http: LocalHttpServer, canary: str
) -> None:
    """The control: the same run, encryption off, and the canary check above finds it."""
    run = await unencrypted.run_workflow(canary_workflow(local_http, canary), {"note": canary})

    assert run["status"] == "succeeded", run
    history = await unencrypted.temporal("workflow", "show", "--workflow-id", temporal_id(run))
    assert ENCRYPTED_MARK not in history
    assert readable(history, canary)


async def test_the_codec_endpoint_opens_history_for_signed_in_users_and_the_temporal_ui(
    encrypted: Flowpilot, canary: str
) -> None:
    raw = echo_definition(canary)
    run = await encrypted.run_workflow(raw, {"n": 7})
    assert run["output"] == f"{canary} 7"
    workflow_id = temporal_id(run)
    history = json.loads(await encrypted.temporal("workflow", "show", "--workflow-id", workflow_id))
    started = history["events"][0]["workflowExecutionStartedEventAttributes"]
    payloads = started["input"]["payloads"]
    assert not readable(json.dumps(payloads), canary)

    answer = await encrypted.api.post(
        "/api/codec/decode",
        json={"payloads": payloads},
        headers={**encrypted.headers, "X-Namespace": "default", "Origin": UI_ORIGIN},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI_ORIGIN
    [decoded] = answer.json()["payloads"]
    assert base64.b64decode(decoded["metadata"]["encoding"]) == b"json/plain"
    assert json.loads(base64.b64decode(decoded["data"]))["inputs"] == {"n": 7}
    assert canary in base64.b64decode(decoded["data"]).decode()

    # The Web UI's way: no token, only the cookie that signing in left in this client.
    with_cookie = await encrypted.api.post(
        "/api/codec/decode", json={"payloads": payloads}, headers={"Origin": UI_ORIGIN}
    )
    assert with_cookie.status_code == 200, with_cookie.text
    assert with_cookie.json() == answer.json()
    assert with_cookie.headers["access-control-allow-credentials"] == "true"
    async with httpx.AsyncClient(base_url=encrypted.api.base_url) as stranger:
        refused = await stranger.post("/api/codec/decode", json={"payloads": payloads})
    assert refused.status_code == 401
    preflight = {"Access-Control-Request-Method": "POST"}
    ui = await encrypted.api.options(
        "/api/codec/decode", headers={"Origin": UI_ORIGIN, **preflight}
    )
    assert ui.status_code == 204
    assert ui.headers["access-control-allow-origin"] == UI_ORIGIN
    other = await encrypted.api.options(
        "/api/codec/decode", headers={"Origin": OTHER_ORIGIN, **preflight}
    )
    assert other.status_code == 403
    assert "access-control-allow-origin" not in other.headers

    # Temporal's own codec client (the CLI; the Web UI speaks the same protocol) reads it too.
    decoded_history = await encrypted.temporal(
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "--codec-endpoint",
        f"{encrypted.api.base_url}/api/codec",
        "--codec-auth",
        encrypted.headers["Authorization"],
    )
    assert readable(decoded_history, canary)


async def test_schedules_start_encrypted_runs_and_keep_their_arguments_sealed(
    encrypted: Flowpilot, canary: str
) -> None:
    raw = {
        "schema": "flowpilot/v1",
        "name": "Scheduled canary",
        "trigger": {"type": "schedule", "cron": "@every 1s", "timezone": "UTC"},
        "inputs": {"note": {"type": "string", "default": canary}},
        "nodes": [{"id": "say", "type": "transform", "params": {"value": "{{ inputs.note }}"}}],
        "output": "{{ nodes.say.output }}",
    }
    created = await encrypted.api.post(
        "/api/workflows", json={"definition": raw}, headers=encrypted.headers
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    try:

        async def succeeded() -> list[dict[str, Any]]:
            listed = await encrypted.api.get(
                "/api/runs",
                params={"workflow_id": workflow_id, "status": "succeeded"},
                headers=encrypted.headers,
            )
            items: list[dict[str, Any]] = listed.json()["items"]
            return items

        [run, *_] = await eventually(succeeded, bool, within=30)
        assert run["trigger"] == "schedule"
        assert run["output"] == canary
        detail = (
            await encrypted.api.get(f"/api/runs/{run['id']}", headers=encrypted.headers)
        ).json()
        history = await encrypted.temporal("workflow", "show", "--workflow-id", temporal_id(detail))
        assert not readable(history, canary)
        schedule_id = f"workflow-{workflow_id}"
        described = await encrypted.temporal("schedule", "describe", "--schedule-id", schedule_id)
        assert not readable(described, canary)

        # A new version replaces the schedule's action through the same converter.
        raw["trigger"]["cron"] = "@every 1h"
        updated = await encrypted.api.put(
            f"/api/workflows/{workflow_id}", json={"definition": raw}, headers=encrypted.headers
        )
        assert updated.status_code == 200, updated.text
        described = await encrypted.temporal("schedule", "describe", "--schedule-id", schedule_id)
        assert not readable(described, canary)
        assert '"3600s"' in described
    finally:
        deleted = await encrypted.api.delete(
            f"/api/workflows/{workflow_id}", headers=encrypted.headers
        )
        assert deleted.status_code == 204


# -- the Web UI's credential: the codec cookie that logging in sets --------------------------

PASSWORD = "correct horse battery"


async def register_and_log_in(api: httpx.AsyncClient) -> httpx.Response:
    email = f"user-{uuid.uuid4().hex[:8]}@example.com"
    registered = await api.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    assert "set-cookie" not in registered.headers, "registering signs no one in"
    login = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return login


def set_cookie(response: httpx.Response) -> Morsel[str]:
    [header] = response.headers.get_list("set-cookie")
    cookie = SimpleCookie[str]()
    cookie.load(header)
    return cookie[CODEC_COOKIE]


def decode_body(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [as_json(payload) for payload in payloads]}


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("http://127.0.0.1:8000", False), ("https://flowpilot.example.com", True)],
)
async def test_logging_in_sets_an_http_only_codec_cookie_for_the_codec_paths_only(
    tmp_path: Path, public_url: str, secure: bool
) -> None:
    settings = endpoint_settings(tmp_path, public_url=public_url, access_token_minutes=15)
    async with app_client(settings) as api:
        login = await register_and_log_in(api)
        me = await api.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
        )

    cookie = set_cookie(login)
    assert cookie["httponly"] is True
    assert cookie["path"] == "/api/codec"
    assert cookie["samesite"].lower() == "lax"
    assert cookie["max-age"] == str(15 * 60) == str(login.json()["expires_in"])
    assert bool(cookie["secure"]) is secure
    assert not cookie["domain"], "host-only: the browser sends it to the API's host alone"
    claims = jwt.decode(cookie.value, options={"verify_signature": False})
    assert claims["scope"] == "codec"
    assert claims["sub"] == me.json()["id"]
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert cookie.value != login.json()["access_token"]


async def test_the_codec_cookie_alone_opens_payloads_but_only_the_ui_may_read_them(
    tmp_path: Path, canary: str
) -> None:
    settings = endpoint_settings(tmp_path)
    sealed = await codec_for(settings).encode([plain_payload(canary)])
    async with app_client(settings) as api:
        await register_and_log_in(api)  # the client keeps the cookie, as a browser would

        from_ui = await api.post(
            "/api/codec/decode", json=decode_body(sealed), headers={"Origin": UI_ORIGIN}
        )
        assert from_ui.status_code == 200, from_ui.text
        [decoded] = from_ui.json()["payloads"]
        assert json.loads(base64.b64decode(decoded["data"])) == canary
        assert from_ui.headers["access-control-allow-origin"] == UI_ORIGIN
        assert from_ui.headers["access-control-allow-credentials"] == "true"
        encoded = await api.post(
            "/api/codec/encode",
            json=decode_body([plain_payload(canary)]),
            headers={"Origin": UI_ORIGIN},
        )
        assert encoded.status_code == 200, encoded.text
        assert encoded.json()["payloads"][0]["metadata"]["encoding"] == ENCRYPTED_MARK

        # Another origin's page can make a browser send the cookie, but not read the answer.
        elsewhere = await api.post(
            "/api/codec/decode", json=decode_body(sealed), headers={"Origin": OTHER_ORIGIN}
        )
        assert "access-control-allow-origin" not in elsewhere.headers
        assert "access-control-allow-credentials" not in elsewhere.headers


async def test_the_codec_cookie_token_is_refused_as_a_bearer_token(tmp_path: Path) -> None:
    async with app_client(endpoint_settings(tmp_path)) as api:
        codec_token = set_cookie(await register_and_log_in(api)).value
        api.cookies.clear()
        as_bearer = {"Authorization": f"Bearer {codec_token}"}

        assert (await api.get("/api/auth/me", headers=as_bearer)).status_code == 401
        assert (await api.get("/api/workflows", headers=as_bearer)).status_code == 401
        decode = await api.post("/api/codec/decode", json={"payloads": []}, headers=as_bearer)
        assert decode.status_code == 401, "a bearer header decides alone, even at /api/codec"


async def test_only_a_codec_token_is_taken_from_the_codec_cookie(tmp_path: Path) -> None:
    async with app_client(endpoint_settings(tmp_path)) as api:
        login = await register_and_log_in(api)
        access_token = login.json()["access_token"]
        bearer = {"Authorization": f"Bearer {access_token}"}
        api_key = (await api.post("/api/api-keys", json={"name": "k"}, headers=bearer)).json()
        codec_token = set_cookie(login).value
        api.cookies.clear()

        async def decode_with_cookie(value: str) -> int:
            answer = await api.post(
                "/api/codec/decode",
                json={"payloads": []},
                headers={"Cookie": f"{CODEC_COOKIE}={value}"},
            )
            return answer.status_code

        assert await decode_with_cookie(codec_token) == 200
        assert await decode_with_cookie(access_token) == 401
        assert await decode_with_cookie(api_key["key"]) == 401
        assert await decode_with_cookie(codec_token[:-2] + "xx") == 401


async def test_logging_out_clears_the_codec_cookie(tmp_path: Path) -> None:
    async with app_client(endpoint_settings(tmp_path)) as api:
        await register_and_log_in(api)
        assert (await api.post("/api/codec/decode", json={"payloads": []})).status_code == 200

        logout = await api.post("/api/auth/logout")  # no token: an expired one may be all there is

        assert logout.status_code == 204
        cleared = set_cookie(logout)
        assert cleared.value == ""
        assert cleared["max-age"] == "0"
        assert cleared["path"] == "/api/codec"
        assert not api.cookies.get(CODEC_COOKIE)
        assert (await api.post("/api/codec/decode", json={"payloads": []})).status_code == 401


async def test_a_deactivated_users_codec_cookie_is_refused(tmp_path: Path) -> None:
    async with app_client(endpoint_settings(tmp_path)) as api:
        admin = await sign_up(api)
        login = await register_and_log_in(api)
        colleague = {"Authorization": f"Bearer {login.json()['access_token']}"}
        colleague_id = (await api.get("/api/auth/me", headers=colleague)).json()["id"]
        assert (await api.post("/api/codec/decode", json={"payloads": []})).status_code == 200

        deactivated = await api.patch(
            f"/api/users/{colleague_id}", json={"is_active": False}, headers=admin
        )
        assert deactivated.status_code == 200, deactivated.text

        assert (await api.post("/api/codec/decode", json={"payloads": []})).status_code == 401
