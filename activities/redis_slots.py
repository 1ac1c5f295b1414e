"""A counting semaphore in Redis whose holds are leases, shared by every worker.

Each pool is one sorted set: a member per hold, scored with the moment (Redis server time,
so every worker reads one clock) its lease runs out. Taking a slot first drops the lapsed
holds, then adds one if fewer than the limit remain; a holder renews its lease every third
of it while its call runs and removes it when done. A worker that dies holding a slot
(SIGKILL, lost host) frees it when the lease lapses, never later.

Waiting is polling, kept cheap: within one process only the first waiter of a pool asks
Redis (the others queue behind it in arrival order), and a slot freed in the same process
wakes it at once.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("flowpilot.worker.slots")

KEY_PREFIX = "flowpilot:connector-slots:"
POLL_SECONDS = 0.1
UNANSWERED_RETRY_SECONDS = 1.0

# KEYS[1]: the pool's sorted set. ARGV: limit, lease in milliseconds, the hold's token.
# Takes a slot, or renews the token's hold if it still has one; 1 if the token holds a slot.
_TAKE = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, ARGV[3]) or redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now + lease, ARGV[3])
  redis.call('PEXPIRE', key, lease)
  return 1
end
return 0
"""


class RedisSlots:
    """Slots of named pools, counted in Redis across every process that shares it."""

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        lease_seconds: float,
        poll_seconds: float = POLL_SECONDS,
        prefix: str = KEY_PREFIX,
    ) -> None:
        self._client = client
        self._take_script = client.register_script(_TAKE)
        self._lease_ms = max(1, int(lease_seconds * 1000))
        self._poll_seconds = poll_seconds
        self._prefix = prefix
        self._queues: dict[str, asyncio.Lock] = {}
        self._freed: dict[str, asyncio.Event] = {}

    @contextlib.asynccontextmanager
    async def slot(self, pool: str, limit: int) -> AsyncIterator[None]:
        """Hold one of `limit` slots of `pool` for the body, waiting for one if need be."""
        key = self._prefix + pool
        token = uuid.uuid4().hex
        try:
            async with self._queues.setdefault(pool, asyncio.Lock()):
                await self._wait_for_slot(pool, key, limit, token)
            renewing = asyncio.create_task(self._renew(key, limit, token))
            try:
                yield
            finally:
                renewing.cancel()
                await asyncio.wait([renewing])
        finally:
            # Also after a cancelled wait: the last attempt may have taken the slot unseen.
            await asyncio.shield(self._release(pool, key, token))

    async def _wait_for_slot(self, pool: str, key: str, limit: int, token: str) -> None:
        freed = self._freed.setdefault(pool, asyncio.Event())
        while True:
            freed.clear()
            taken = await self._take(key, limit, token)
            if taken:
                return
            delay = self._poll_seconds if taken is False else UNANSWERED_RETRY_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(freed.wait(), delay)

    async def _renew(self, key: str, limit: int, token: str) -> None:
        while True:
            await asyncio.sleep(self._lease_ms / 3000)
            if await self._take(key, limit, token) is False:
                log.warning(
                    "the lease on a %s slot lapsed and others took the pool's slots: "
                    "this call goes on beyond the limit",
                    key.removeprefix(self._prefix),
                )

    async def _take(self, key: str, limit: int, token: str) -> bool | None:
        """True: the token holds a slot; False: the pool is full; None: no answer."""
        try:
            return bool(await self._take_script(keys=[key], args=[limit, self._lease_ms, token]))
        except (RedisError, OSError) as error:
            log.warning("connector slots: Redis did not answer (%s)", error)
            return None

    async def _release(self, pool: str, key: str, token: str) -> None:
        try:
            await self._client.zrem(key, token)
        except (RedisError, OSError) as error:
            log.warning("connector slots: could not release a slot (%s); its lease ends it", error)
        self._freed.setdefault(pool, asyncio.Event()).set()
