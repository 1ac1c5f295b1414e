"""The node type → activity registry the worker registers.

Every activity is named after the node type it runs, which is how `DagWorkflow`
schedules it without importing any of this code.
"""

from collections.abc import Callable
from typing import Any

import httpx

from activities.http import HttpActivities
from core.config import Settings


def build_activities(
    settings: Settings, http_client: httpx.AsyncClient | None = None
) -> dict[str, Callable[..., Any]]:
    http = HttpActivities(
        allowed_hosts=settings.http_allowed_hosts,
        max_response_bytes=settings.http_max_response_bytes,
        client=http_client,
    )
    return {"http.request": http.request}
