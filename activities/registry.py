"""The node type → activity registry the worker registers.

Every activity is named after the node type it runs, which is how `DagWorkflow`
schedules it without importing any of this code.
"""

import contextlib
from collections.abc import AsyncIterator

import httpx

from activities.credentials import CredentialStore
from activities.email import EmailActivities
from activities.http import HttpActivities
from activities.llm import LlmActivities
from activities.notion import NotionActivities
from activities.recording import RecordingActivities
from activities.s3 import S3Activities
from activities.saved_workflows import SavedWorkflows
from activities.sheets import SheetsActivities
from activities.slack import SlackActivities
from activities.support import ActivityRegistry
from core.config import Settings
from core.crypto import cipher_for
from core.db import create_engine, session_factory
from core.payload_store import payload_store
from workflows.contract import LOAD_WORKFLOW, RECORD_PROGRESS


@contextlib.asynccontextmanager
async def worker_activities(
    settings: Settings, http_client: httpx.AsyncClient | None = None
) -> AsyncIterator[ActivityRegistry]:
    """The activities of a worker, sharing one database engine that is closed with them."""
    engine = create_engine(settings)
    sessions = session_factory(engine)
    credentials = CredentialStore(sessions, cipher_for(settings))
    http = HttpActivities(
        allowed_hosts=settings.http_allowed_hosts,
        max_response_bytes=settings.http_max_response_bytes,
        client=http_client,
        credentials=credentials,
    )
    store = payload_store(settings, engine)
    recording = RecordingActivities(sessions, store, settings.payload_inline_max_bytes)
    saved = SavedWorkflows(sessions)
    connectors = [
        service(settings, credentials)
        for service in (
            EmailActivities,
            LlmActivities,
            SlackActivities,
            NotionActivities,
            SheetsActivities,
            S3Activities,
        )
    ]
    registry: ActivityRegistry = {
        "http.request": http.request,
        RECORD_PROGRESS: recording.record_progress,
        LOAD_WORKFLOW: saved.load,
    }
    for connector in connectors:
        registry.update(connector.activities())
    try:
        yield registry
    finally:
        for connector in connectors:
            await connector.aclose()
        await http.aclose()
        await store.aclose()
        await engine.dispose()
