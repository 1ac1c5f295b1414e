"""The node type → activity registry the worker registers.

Every activity is named after the node type it runs, which is how `DagWorkflow`
schedules it without importing any of this code.
"""

from collections.abc import Callable
from typing import Any

import httpx

from activities.credentials import CredentialStore
from activities.http import HttpActivities
from activities.recording import RecordingActivities
from activities.saved_workflows import SavedWorkflows
from core.config import Settings
from core.crypto import cipher_for
from core.db import create_engine, session_factory
from workflows.contract import LOAD_WORKFLOW, RECORD_PROGRESS


def build_activities(
    settings: Settings, http_client: httpx.AsyncClient | None = None
) -> dict[str, Callable[..., Any]]:
    sessions = session_factory(create_engine(settings))
    credentials = CredentialStore(sessions, cipher_for(settings))
    http = HttpActivities(
        allowed_hosts=settings.http_allowed_hosts,
        max_response_bytes=settings.http_max_response_bytes,
        client=http_client,
        credentials=credentials,
    )
    recording = RecordingActivities(sessions)
    saved = SavedWorkflows(sessions)
    return {
        "http.request": http.request,
        RECORD_PROGRESS: recording.record_progress,
        LOAD_WORKFLOW: saved.load,
    }
