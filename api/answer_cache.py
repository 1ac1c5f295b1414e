"""A Redis cache for generated workflows, so the same request costs one model call."""

import json
import logging
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RedisAnswerCache:
    """JSON values under their key for `ttl_seconds`. The cache is an optimisation: when
    Redis cannot answer, a lookup misses and a store is skipped, with a warning."""

    def __init__(self, client: aioredis.Redis, ttl_seconds: int) -> None:
        self._client = client
        self._ttl = ttl_seconds

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int) -> "RedisAnswerCache":
        client = aioredis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
        return cls(client, ttl_seconds)

    async def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = await self._client.get(key)
        except (RedisError, OSError) as error:
            log.warning("answer cache unavailable, asking the model: %s", error)
            return None
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def set(self, key: str, value: dict[str, Any]) -> None:
        try:
            await self._client.set(key, json.dumps(value), ex=self._ttl)
        except (RedisError, OSError) as error:
            log.warning("answer cache unavailable, not storing: %s", error)

    async def aclose(self) -> None:
        await self._client.aclose()
