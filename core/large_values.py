"""Large values of a run's record: a stand-in in the database row, the value in the payload
store.

A node's input or output, or a run's output, larger than PAYLOAD_INLINE_MAX_BYTES as JSON is
recorded as `{"$stored": {"key", "size", "preview"}}`: run pages, event streams and lists stay
small, and the API serves the whole value from its own address
(`GET /api/runs/{id}/nodes/{node}/output`, `GET /api/runs/{id}/output`). Stored values are
keyed by the SHA-256 of their JSON, like the payloads Temporal's history refers to.
"""

import json
from typing import Any

from core.payload_store import PayloadStore, blob_key

STORED = "$stored"
PREVIEW_CHARS = 1000


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def stand_in(value: Any, store: PayloadStore, inline_max_bytes: int) -> Any:
    """`value` as it is when small, else a stand-in, with the value put in `store`."""
    if value is None or isinstance(value, bool | int | float):
        return value
    data = _json_bytes(value)
    if len(data) <= inline_max_bytes:
        return value
    key = blob_key(data)
    await store.put(key, data)
    preview = value if isinstance(value, str) else data.decode(errors="replace")
    return {STORED: {"key": key, "size": len(data), "preview": preview[:PREVIEW_CHARS]}}


def stored_key(value: Any) -> str | None:
    """The store key of a stand-in; None for any other value."""
    if isinstance(value, dict) and set(value) == {STORED} and isinstance(value[STORED], dict):
        key = value[STORED].get("key")
        return key if isinstance(key, str) else None
    return None


async def resolved(value: Any, store: PayloadStore) -> Any:
    """The whole value a stand-in stands for; any other value as it is."""
    key = stored_key(value)
    if key is None:
        return value
    return json.loads(await store.get(key))
