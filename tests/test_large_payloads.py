"""Large payloads by reference: a 20 MB HTTP body moves from one node to the next through
Temporal while Temporal's history holds only references to it (core/codec.py,
core/payload_store.py). The API and worker run as processes, as deployed."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.testing import WorkflowEnvironment

from core.codec import STORED_ENCODING, STORED_KEY, LargePayloadCodec, payload_codec
from core.config import Settings
from core.migrate import upgrade
from core.payload_store import DatabasePayloadStore, PayloadMissing, blob_key
from tests.support.api import POSTGRES_URL, reset_postgres
from tests.support.local_http import LocalHttpServer
from tests.support.stack import Flowpilot, flowpilot_stack, temporal_id

BODY_BYTES = 20 * 1024 * 1024
INLINE_MAX = 128 * 1024
HISTORY_BUDGET = 2 * 1024 * 1024
"""The whole history of the run, as the Temporal CLI prints it (JSON, base64 payloads)."""


@pytest.fixture
async def stack(temporal_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Flowpilot]:
    await reset_postgres(POSTGRES_URL)
    env = {"HTTP_MAX_RESPONSE_BYTES": str(32 * 1024 * 1024)}
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
