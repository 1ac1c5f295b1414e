"""The API's Temporal client: connected on first use, shared by every request."""

import asyncio

from fastapi import Request
from temporalio.client import Client

from api.errors import ServiceUnavailable
from core.temporal import connect

_lock = asyncio.Lock()


async def temporal_client(request: Request) -> Client:
    """The shared client; 503 while Temporal cannot be reached."""
    state = request.app.state
    if getattr(state, "temporal", None) is None:
        async with _lock:
            if getattr(state, "temporal", None) is None:
                try:
                    state.temporal = await connect(
                        state.settings, interceptors=state.temporal_interceptors
                    )
                except Exception as error:
                    raise ServiceUnavailable(f"Temporal is unreachable: {error}") from None
    client: Client = state.temporal
    return client
