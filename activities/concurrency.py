"""Per-connector concurrency limits: at most N calls to a service at once, across all runs.

Third-party services limit how hard one customer may call them (Slack, Notion, a partner's
API); a burst of runs must not trip those limits. `CONNECTOR_CONCURRENCY` names pools: a
node type (`slack.post_message`) or a family (`notion`: every `notion.*` node together), each
with its limit; a node type's own entry wins over its family's. `ConnectorConcurrency`, a
worker interceptor, makes each node activity of a limited pool hold a slot while it runs.

Slots are counted in Redis when `REDIS_URL` is set (shared by every worker, see
`activities.redis_slots`), else in the worker's memory (the embedded default: one worker).
A node waiting for a slot heartbeats, so waiting costs none of its retry attempts and a
cancelled run stops waiting at once; the wait counts against the node's start-to-close
timeout, and the waiting activity holds one of the worker's activity slots.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from activities.redis_slots import RedisSlots
from activities.support import heartbeating
from core.config import Settings
from workflows.contract import LOAD_WORKFLOW, RECORD_PROGRESS

log = logging.getLogger("flowpilot.worker.slots")
LONG_WAIT_SECONDS = 1.0
"""Waits at least this long are logged."""


class Slots(Protocol):
    def slot(self, pool: str, limit: int) -> contextlib.AbstractAsyncContextManager[None]: ...


class LocalSlots:
    """Slots counted in this process: one asyncio semaphore per pool."""

    def __init__(self) -> None:
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, pool: str, limit: int) -> AsyncIterator[None]:
        async with self._semaphores.setdefault(pool, asyncio.Semaphore(limit)):
            yield


def pool_of(limits: Mapping[str, int], activity_type: str) -> str | None:
    """The pool an activity counts in: its node type's own entry, else its family's."""
    if activity_type in limits:
        return activity_type
    family = activity_type.partition(".")[0]
    return family if family in limits else None


def check_limits(limits: Mapping[str, int], activity_names: Collection[str]) -> None:
    """Refuse pools that name no node type of this worker (a typo would limit nothing), and
    Flowpilot's own activities (recording a run's progress must never wait)."""
    node_types = set(activity_names) - {RECORD_PROGRESS, LOAD_WORKFLOW}
    families = {name.partition(".")[0] for name in node_types if "." in name}
    unknown = sorted(set(limits) - node_types - families)
    if unknown:
        known = ", ".join(sorted(families | node_types))
        raise ValueError(
            f"CONNECTOR_CONCURRENCY names {', '.join(map(repr, unknown))}: neither a node "
            f"type nor a family of node types (known: {known})"
        )


class ConnectorConcurrency(Interceptor):
    """Makes each activity of a limited pool hold one of the pool's slots while it runs."""

    def __init__(self, limits: Mapping[str, int], slots: Slots) -> None:
        self.limits = dict(limits)
        self.slots = slots

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _HoldSlot(next, self)


class _HoldSlot(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: ConnectorConcurrency) -> None:
        super().__init__(next)
        self._owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        pool = pool_of(self._owner.limits, activity.info().activity_type)
        if pool is None:
            return await self.next.execute_activity(input)
        limit = self._owner.limits[pool]
        async with contextlib.AsyncExitStack() as held:
            started = time.monotonic()
            async with heartbeating():
                await held.enter_async_context(self._owner.slots.slot(pool, limit))
            waited = time.monotonic() - started
            if waited >= LONG_WAIT_SECONDS:
                log.info("waited %.1f s for a slot of %s (limit %d)", waited, pool, limit)
            return await self.next.execute_activity(input)


@contextlib.asynccontextmanager
async def connector_concurrency(
    settings: Settings, activity_names: Collection[str]
) -> AsyncIterator[ConnectorConcurrency]:
    """The interceptor for `settings.connector_concurrency`, its Redis client closed at exit."""
    limits = settings.connector_concurrency
    check_limits(limits, activity_names)
    if not limits or not settings.redis_url:
        if limits:
            log.info("connector limits are counted in this worker only (no REDIS_URL)")
        yield ConnectorConcurrency(limits, LocalSlots())
        return
    client = aioredis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=1.0, socket_timeout=1.0, health_check_interval=30
    )
    try:
        slots = RedisSlots(client, lease_seconds=settings.connector_slot_lease_seconds)
        yield ConnectorConcurrency(limits, slots)
    finally:
        await client.aclose()
