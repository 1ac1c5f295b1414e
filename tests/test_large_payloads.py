"""Large payloads by reference: a 20 MB HTTP body moves from one node to the next through
Temporal while Temporal's history holds only references to it (core/codec.py,
core/payload_store.py). The API and worker run as processes, as deployed."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from core.codec import STORED_ENCODING, STORED_KEY, LargePayloadCodec, payload_codec
from core.config import Settings
from core.migrate import upgrade
from core.payload_store import DatabasePayloadStore, PayloadMissing, blob_key
from tests.support.api import POSTGRES_URL, reset_postgres
from tests.support.fake_s3 import FakeS3
from tests.support.local_http import LocalHttpServer
from tests.support.stack import Flowpilot, flowpilot_stack, temporal_id

BODY_BYTES = 20 * 1024 * 1024
INLINE_MAX = 128 * 1024
HISTORY_BUDGET = 2 * 1024 * 1024
"""The whole history of the run, as the Temporal CLI prints it (JSON, base64 payloads)."""


@pytest.fixture(params=["database", "s3"])
async def stack(
    request: pytest.FixtureRequest,
    temporal_env: WorkflowEnvironment,
    tmp_path: Path,
    fake_s3: FakeS3,
) -> AsyncIterator[Flowpilot]:
    """API and worker on either payload store: the database, or a bucket on S3 (moto)."""
    await reset_postgres(POSTGRES_URL)
    env = {"HTTP_MAX_RESPONSE_BYTES": str(32 * 1024 * 1024), "PAYLOAD_STORE": request.param}
    if request.param == "s3":
        s3 = fake_s3.credential()
        env |= {
            "PAYLOAD_S3_BUCKET": fake_s3.create_bucket("payloads"),
            "PAYLOAD_S3_ENDPOINT_URL": s3["endpoint_url"],
            "PAYLOAD_S3_REGION": s3["region"],
            "PAYLOAD_S3_ACCESS_KEY_ID": s3["access_key_id"],
            "PAYLOAD_S3_SECRET_ACCESS_KEY": s3["secret_access_key"],
            "PAYLOAD_S3_PATH_STYLE": "true",
        }
    address = temporal_env.client.service_client.config.target_host
    async with flowpilot_stack(address, tmp_path, env) as running:
        yield running


def relay(local_http: LocalHttpServer) -> dict[str, Any]:
    return {
        "name": "Relay a big body",
        "nodes": [
            {"id": "fetch", "type": "http.request", "params": {"url": local_http.url("/big")}},
            {
                "id": "forward",
                "type": "http.request",
                "needs": ["fetch"],
                "params": {
                    "url": local_http.url("/sink"),
                    "method": "POST",
                    "body": "{{ nodes.fetch.output.body }}",
                },
            },
            {
                "id": "measure",
                "type": "transform",
                "needs": ["fetch"],
                "params": {"value": "{{ nodes.fetch.output.body | length }}"},
            },
        ],
        "output": "{{ nodes.measure.output }}",
    }


def payloads_in(history: dict[str, Any]) -> list[dict[str, Any]]:
    """Every payload of a history (protobuf JSON): dicts with `metadata` and maybe `data`."""
    found: list[dict[str, Any]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "metadata" in value and "encoding" in value["metadata"]:
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(history)
    return found


async def test_a_20_mb_body_moves_between_nodes_and_history_stays_small(
    stack: Flowpilot, local_http: LocalHttpServer
) -> None:
    body = "0123456789abcdef" * (BODY_BYTES // 16)
    local_http.route("/big", [(200, body, {"Content-Type": "text/plain"})])
    local_http.route("/sink", [(200, {"ok": True})])

    run = await stack.run_workflow(relay(local_http), {})

    assert run["status"] == "succeeded", run["error"]
    assert run["output"] == BODY_BYTES
    assert local_http.requests("/sink")[0].body == body.encode()
    shown = await stack.temporal("workflow", "show", "--workflow-id", temporal_id(run))
    assert len(shown) < HISTORY_BUDGET, len(shown)
    payloads = payloads_in(json.loads(shown))
    stored = [p for p in payloads if p["metadata"]["encoding"] == "Zmxvd3BpbG90L3N0b3JlZA=="]
    assert len(stored) >= 2, "the fetched body and the forwarded params are stored"
    assert all(len(p.get("data", "")) * 3 / 4 <= INLINE_MAX for p in payloads)
    in_database = await blobs_in_database()
    if stack.processes.env["PAYLOAD_STORE"] == "s3":
        assert in_database == 0, "an S3 store leaves the database alone"
    else:
        assert in_database >= 2


async def blobs_in_database() -> int:
    parsed = make_url(POSTGRES_URL)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM payload_blobs")
        return count
    finally:
        await connection.close()


async def test_the_run_record_shows_stand_ins_and_serves_the_whole_values(
    stack: Flowpilot, local_http: LocalHttpServer
) -> None:
    body = "x" * BODY_BYTES
    local_http.route("/big", [(200, body, {"Content-Type": "text/plain"})])
    local_http.route("/sink", [(200, {"ok": True})])
    run = await stack.run_workflow(relay(local_http), {})
    api, headers = stack.api, stack.headers

    detail = await api.get(f"/api/runs/{run['id']}", headers=headers)
    nodes = {node["node_id"]: node for node in detail.json()["nodes"]}
    whole = await api.get(f"/api/runs/{run['id']}/nodes/fetch/output", headers=headers)
    sent = await api.get(f"/api/runs/{run['id']}/nodes/forward/input", headers=headers)
    missing = await api.get(f"/api/runs/{run['id']}/nodes/nope/output", headers=headers)

    assert len(detail.content) < 64 * 1024
    stored = nodes["fetch"]["output"]["$stored"]
    assert stored["size"] > BODY_BYTES
    assert stored["preview"].startswith('{"status":200')
    assert whole.status_code == 200
    assert whole.json()["body"] == body
    assert sent.json()["body"] == body
    assert nodes["measure"]["output"] == BODY_BYTES, "small values are recorded as they are"
    assert missing.status_code == 404


async def test_a_retry_reuses_a_large_output_without_fetching_it_again(
    stack: Flowpilot, local_http: LocalHttpServer
) -> None:
    body = "y" * (1024 * 1024)
    local_http.route("/big", [(200, body, {"Content-Type": "text/plain"})])
    local_http.route("/sink", [(400, "no"), (200, {"ok": True})])
    definition = relay(local_http)
    definition["nodes"][1]["retry"] = {"max_attempts": 1}
    failed = await stack.run_workflow(definition, {})
    assert failed["status"] == "failed", failed

    retried = await stack.api.post(
        f"/api/runs/{failed['id']}/retry", json={}, headers=stack.headers
    )
    assert retried.status_code == 201, retried.text
    run = await stack.finished(retried.json()["id"])

    assert run["status"] == "succeeded", run["error"]
    assert local_http.hits("/big") == 1
    assert local_http.requests("/sink")[-1].body == body.encode()


async def test_small_payloads_stay_inline_and_large_ones_round_trip_by_key(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(upgrade, settings)
    store = DatabasePayloadStore(settings)
    codec = LargePayloadCodec(store, INLINE_MAX)
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'"hi"')
    large = Payload(metadata={"encoding": b"json/plain"}, data=b'"' + b"x" * INLINE_MAX + b'"')
    try:
        encoded = await codec.encode([small, large, large])

        assert encoded[0] == small
        assert encoded[1] == encoded[2], "one blob per distinct payload"
        assert encoded[1].metadata["encoding"] == STORED_ENCODING
        assert not encoded[1].data
        assert await codec.decode(encoded) == [small, large, large]
        with pytest.raises(PayloadMissing):
            await store.get(blob_key(b"never stored"))
    finally:
        await store.aclose()


async def test_with_encryption_on_the_store_holds_only_ciphertext(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, payload_encryption=True)
    await asyncio.to_thread(upgrade, settings)
    codec = payload_codec(settings)
    canary = b"canary-" + b"z" * INLINE_MAX
    large = Payload(metadata={"encoding": b"json/plain"}, data=canary)

    [encoded] = await codec.encode([large])
    store = DatabasePayloadStore(settings)
    try:
        stored = await store.get(encoded.metadata[STORED_KEY].decode())
    finally:
        await store.aclose()

    assert encoded.metadata["encoding"] == STORED_ENCODING
    assert b"canary-" not in stored
    assert Payload.FromString(stored).metadata["encoding"] == b"binary/encrypted"
    assert await codec.decode([encoded]) == [large]
